"""The suite stops each service it started once the tests it was kept for have run: a
service kept for one test after that test, one kept for a directory after the last test
under it, wherever those run in the session's order. (An inner pytest session with stand-
ins for the processes: what is under test is when `stop_soon` is called.)"""

from __future__ import annotations

import re
import textwrap

import pytest

CONFTEST = """
from pathlib import Path

import pytest
from innopark_shared.testing.services import _lifetimes


class StandIn:
    def __init__(self, name):
        self.name = name

    def stop_soon(self):
        print(f"<stopped {self.name}>")


@pytest.fixture(scope="session")
def for_directory_a():
    _lifetimes.keep(StandIn("kept for a/"), Path(__file__).parent / "a")


@pytest.fixture
def for_this_test():
    _lifetimes.keep(StandIn("kept for its test"), None)
"""


def test_services_stop_after_the_tests_they_were_kept_for(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    for path, body in {
        "a/test_first.py": """
            def test_one(for_directory_a, for_this_test):
                print("<ran a/one>")
            """,
        "a/sub/test_second.py": """
            def test_two(for_directory_a):
                print("<ran a/sub/two>")
            """,
        "b/test_third.py": """
            def test_three():
                print("<ran b/three>")
            """,
        # Collected after b/: a directory's tests need not be contiguous in the order.
        "c/test_fourth.py": """
            def test_four():
                print("<ran c/four>")
            """,
    }.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(body))
    order = ["a/test_first.py", "b/test_third.py", "a/sub/test_second.py", "c/test_fourth.py"]
    result = pytester.runpytest_subprocess(
        "-s", "-p", "innopark_shared.testing", "--import-mode=importlib", *order
    )
    result.assert_outcomes(passed=4)
    events = re.findall(r"<(?:ran|stopped) [^>]*>", result.stdout.str())
    assert events == [
        "<ran a/one>",
        "<stopped kept for its test>",
        "<ran b/three>",
        "<ran a/sub/two>",
        "<stopped kept for a/>",
        "<ran c/four>",
    ], result.stdout.str()
