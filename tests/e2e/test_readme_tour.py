"""The README's tour cannot rot: its commands, extracted from the README as they are, run
against a fresh platform with the demo loaded, and every answer must be the one the
README shows. Loading the demo a second time must change nothing."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from innopark_shared.testing import running_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).parents[2]
MARK = "@@tour-block@@"


def tour_blocks() -> list[tuple[str, str | None]]:
    """(commands, expected answer or None) for each ```sh block of the tour."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## A tour\n") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```(sh|text)\n(.*?)```", section, flags=re.S)
    pairs: list[tuple[str, str | None]] = []
    for kind, body in blocks:
        if kind == "sh":
            pairs.append((body, None))
        else:
            assert pairs and pairs[-1][1] is None, "an answer must follow its commands"
            pairs[-1] = (pairs[-1][0], body)
    return pairs


def matches(expected: str, actual: str) -> bool:
    """Line by line; `<…>` in the README stands for a value that differs per run."""
    want, got = expected.rstrip("\n").split("\n"), actual.rstrip("\n").split("\n")
    if len(want) != len(got):
        return False
    for w, g in zip(want, got, strict=True):
        pattern = "".join(
            ".+" if part.startswith("<") else re.escape(part) for part in re.split(r"(<[^>]+>)", w)
        )
        if not re.fullmatch(pattern, g):
            return False
    return True


def demo(base: int) -> str:
    env = {**os.environ, "INNOPARK_PORT_BASE": str(base), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "innopark_shared.devrun", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def feed_end(client, headers) -> str:
    cursor = None
    while True:
        page = (
            await client.get(
                "/api/v1/registry/changes", params={"cursor": cursor, "limit": 200}, headers=headers
            )
        ).json()
        cursor = page["next_cursor"]
        if not page["items"]:
            return cursor


async def counts(client, headers) -> dict[str, int]:
    """What the demo makes outside the registry, counted through the API."""
    found = {}
    for name, path in (
        ("orders", "/api/v1/orders"),
        ("proposals", "/api/v1/proposals"),
        ("partners", "/api/v1/partners"),
        ("users", "/api/v1/users"),
        ("events", "/api/v1/events"),
        ("applications", "/api/v1/accreditation/applications"),
    ):
        body = (await client.get(path, params={"limit": 200}, headers=headers)).json()
        found[name] = len(body["items"])
    for event in (await client.get("/api/v1/events", params={"limit": 200})).json()["items"]:
        regs = await client.get(
            f"/api/v1/events/{event['id']}/registrations", params={"limit": 200}, headers=headers
        )
        found[f"registrations of {event['title']}"] = len(regs.json()["items"])
    return found


async def test_the_readme_tour_runs_as_written_on_the_demo():
    async with running_platform(
        BOOTSTRAP_ADMIN_EMAIL="admin@innopark.local", BOOTSTRAP_ADMIN_PASSWORD="innopark-admin"
    ) as platform:
        first = await asyncio.to_thread(demo, platform.port_base)
        assert "[9/9]" in first and " created" in first, first
        operator = await platform.login("admin@innopark.local", "innopark-admin")
        async with platform.client() as c:
            cursor, before = await feed_end(c, operator), await counts(c, operator)
            second = await asyncio.to_thread(demo, platform.port_base)
            assert "demo loaded: 0 created" in second, second
            again = await c.get(
                "/api/v1/registry/changes", params={"cursor": cursor}, headers=operator
            )
            assert again.json()["items"] == [], "a second load changed the registry"
            assert await counts(c, operator) == before

        blocks = tour_blocks()
        assert len(blocks) >= 4
        script = "set -u\n" + "".join(f"{commands}\necho {MARK}\n" for commands, _ in blocks)
        with tempfile.TemporaryDirectory() as work:
            for name in ("services", ".venv"):
                os.symlink(ROOT / name, Path(work) / name)
            done = await asyncio.to_thread(
                subprocess.run,
                ["bash", "-c", script],
                cwd=work,
                env={**os.environ, "BASE": platform.gateway},
                capture_output=True,
                text=True,
                timeout=180,
            )
        outputs = done.stdout.split(MARK + "\n")
        assert len(outputs) == len(blocks) + 1, done.stdout + done.stderr
        for (commands, expected), actual in zip(blocks, outputs, strict=False):
            if expected is not None:
                assert matches(expected, actual), (
                    f"the README says\n{expected}\nbut the commands\n{commands}\nanswered\n"
                    f"{actual}\n{done.stderr[-2000:]}"
                )
