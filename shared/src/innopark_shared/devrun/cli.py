"""`innopark-dev up`: the README's first command ends here."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .demo import main as demo_main
from .runner import RunnerConfig, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="innopark-dev")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole platform and supervise it until Ctrl+C")
    up.add_argument("--data-dir", type=Path, help="where data persists (default .data)")
    up.add_argument("--port-base", type=int, help="gateway port; services use the next four")
    up.add_argument("--broker-port", type=int)
    up.add_argument("--pg-port", type=int)
    demo = sub.add_parser(
        "demo", help="load the demo data set into the running platform (idempotent)"
    )
    demo.add_argument("--port-base", type=int, help="the gateway's port (default 8000)")
    args = parser.parse_args()
    if args.command == "demo":
        raise SystemExit(demo_main(RunnerConfig.from_env(port_base=args.port_base)))
    if args.command == "up":
        config = RunnerConfig.from_env(
            data_dir=args.data_dir,
            port_base=args.port_base,
            broker_port=args.broker_port,
            pg_port=args.pg_port,
        )
        try:
            asyncio.run(run(config))
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
