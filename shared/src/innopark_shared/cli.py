"""The command line every service and the gateway share: `python -m <package> migrate|serve`.

The container images' entrypoints and the dev runner call exactly these commands.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from alembic import command

from .migrations import alembic_config, upgrade
from .settings import ServiceSettings


def service_main(package: str, get_settings: Callable[[], ServiceSettings]) -> None:
    module = importlib.import_module(package)
    assert module.__file__, f"{package} is not a regular package"
    migrations_dir = Path(module.__file__).parent / "migrations"

    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")
    sub.add_parser("serve", help="run the HTTP server (and its relay and consumers)")
    rev = sub.add_parser("revision", help="create a new migration")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args()

    settings = get_settings()
    if args.command == "migrate":
        upgrade(migrations_dir, settings.database_url)
    elif args.command == "revision":
        command.revision(
            alembic_config(migrations_dir, settings.database_url),
            message=args.message,
            autogenerate=args.autogenerate,
        )
    elif args.command == "serve":
        import uvicorn

        uvicorn.run(
            f"{package}.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
