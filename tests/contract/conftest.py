"""What the contract tests need beyond the platform: a headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CHROMIUM = "/usr/bin/chromium"


def ensure_chromium() -> str:
    """Debian's chromium, installed on first use when we are root and it is missing
    (`make browser` does the same ahead of time)."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    problems = []
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                problems.append(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr}")
                break
    else:
        problems.append("not root (or no apt-get): run `sudo apt-get install -y chromium`")
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    pytest.fail(
        f"The portal test drives headless Chromium at {CHROMIUM}, which is missing and "
        "could not be installed:\n" + "\n".join(problems),
        pytrace=False,
    )


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()
