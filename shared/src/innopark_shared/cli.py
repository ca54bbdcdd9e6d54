"""The command line every service and the gateway share: `python -m <package> migrate|serve`,
and for a service that consumes events `dead-letters list|replay|discard`.

The container images' entrypoints and the dev runner call exactly these commands.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import uuid
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from alembic import command

from .db import Database
from .deadletters import discard_dead_letters, list_dead_letters, replay_dead_letters
from .migrations import alembic_config, upgrade
from .settings import ServiceSettings
from .subscriptions import SUBSCRIPTIONS_ENTRY_POINTS


def service_main(package: str, get_settings: Callable[[], ServiceSettings]) -> None:
    module = importlib.import_module(package)
    assert module.__file__, f"{package} is not a regular package"
    migrations_dir = Path(module.__file__).parent / "migrations"

    parser = argparse.ArgumentParser(prog=f"python -m {package}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")
    serve = sub.add_parser("serve", help="run the HTTP server (and its relay and consumers)")
    serve.add_argument(
        "--migrate",
        action="store_true",
        help="apply the migrations first, in this process (the dev runner: one interpreter "
        "start per service instead of two; containers run `migrate` as its own step)",
    )
    rev = sub.add_parser("revision", help="create a new migration")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true")
    service = package.removeprefix("innopark_")
    consumes = any(
        point.name == service for point in entry_points(group=SUBSCRIPTIONS_ENTRY_POINTS)
    )
    if consumes:
        dead = sub.add_parser("dead-letters", help="list, replay or discard dead letters")
        dead_sub = dead.add_subparsers(dest="action", required=True)
        listing = dead_sub.add_parser("list", help="pending dead letters, oldest first")
        listing.add_argument("--topic")
        listing.add_argument("--limit", type=int, default=100)
        for action in ("replay", "discard"):
            chosen = dead_sub.add_parser(action, help=f"{action} dead letters")
            which = chosen.add_mutually_exclusive_group(required=True)
            which.add_argument("--all", action="store_true", help="every pending one")
            which.add_argument("ids", nargs="*", default=[], type=uuid.UUID)
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
    elif args.command == "dead-letters":
        raise SystemExit(asyncio.run(_dead_letters(package, settings, args)))
    elif args.command == "serve":
        import uvicorn

        if args.migrate:
            upgrade(migrations_dir, settings.database_url)
        uvicorn.run(
            f"{package}.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
            timeout_keep_alive=settings.http_keep_alive_seconds,
        )


async def _dead_letters(package: str, settings: ServiceSettings, args: argparse.Namespace) -> int:
    metadata = importlib.import_module(f"{package}.models").metadata
    database = Database(settings.database_url, pool_size=1, max_overflow=0)
    try:
        if args.action == "list":
            for row in await list_dead_letters(
                database, metadata, topic=args.topic, limit=args.limit
            ):
                print(
                    json.dumps(
                        {
                            "id": str(row.id),
                            "topic": row.topic,
                            "partition": row.partition,
                            "offset": row.offset,
                            "event_id": row.event_id,
                            "event_type": row.event_type,
                            "attempts": row.attempts,
                            "first_failed_at": row.first_failed_at.isoformat(),
                            "last_failed_at": row.last_failed_at.isoformat(),
                            "error": row.error,
                        },
                        ensure_ascii=False,
                    )
                )
            return 0
        ids = None if args.all else list(args.ids)
        if args.action == "discard":
            print(f"discarded {await discard_dead_letters(database, metadata, ids=ids)}")
            return 0
        (point,) = entry_points(
            group=SUBSCRIPTIONS_ENTRY_POINTS, name=package.removeprefix("innopark_")
        )
        subscriptions = point.load()
        outcomes = await replay_dead_letters(database, metadata, subscriptions, ids=ids)
        for outcome in outcomes:
            print(
                json.dumps(
                    {"id": str(outcome.id), "result": outcome.result, "error": outcome.error}
                )
            )
        return 1 if any(o.result == "failed" for o in outcomes) else 0
    finally:
        await database.dispose()
