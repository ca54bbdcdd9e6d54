"""A database outage is a fast 503 with Retry-After, never a 500, and ends by itself."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from innopark_shared.db import Database, SessionDep
from innopark_shared.devrun.embedded import EmbeddedPostgres, free_port
from innopark_shared.errors import install_problem_handlers
from innopark_shared.outages import is_transient
from sqlalchemy.exc import DBAPIError, OperationalError


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_outages_are_told_from_bugs_and_bad_input() -> None:
    def wrapped(sqlstate: str) -> DBAPIError:
        return OperationalError("stmt", {}, _PgError(sqlstate))

    assert is_transient(ConnectionRefusedError(111, "refused"))
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert is_transient(wrapped("40001"))  # serialization failure
    assert is_transient(wrapped("40P01"))  # deadlock
    assert is_transient(wrapped("57P01"))  # administrator shutdown
    assert is_transient(wrapped("08006"))  # connection failure
    assert not is_transient(wrapped("22P05"))  # untranslatable character: the input's fault
    assert not is_transient(wrapped("23505"))  # unique violation
    assert not is_transient(ValueError("a bug"))
    assert not is_transient(KeyError("a bug"))
    assert not is_transient(FileNotFoundError("config"))
    assert not is_transient(PermissionError(13, "a handler's own file"))
    assert is_transient(OSError(113, "No route to host"))  # EHOSTUNREACH, unwrapped
    chained = RuntimeError("wrapper")
    chained.__cause__ = ConnectionRefusedError()
    assert is_transient(chained)


async def test_database_killed_answers_503_then_recovers_without_restart() -> None:
    # A PostgreSQL of its own, killed with SIGKILL and started again on the same data.
    workdir = Path(tempfile.mkdtemp(prefix="innopark-outage-"))
    postgres = EmbeddedPostgres(workdir / "pg", port=free_port())
    await postgres.start()
    database = Database(postgres.admin_url.replace("postgresql://", "postgresql+asyncpg://"))
    app = FastAPI()
    app.state.database = database
    install_problem_handlers(app)

    @app.post("/things", status_code=201)
    async def create(session: SessionDep) -> dict:
        value = await session.scalar(sa.text("SELECT 41 + 1"))
        return {"value": value}

    try:
        async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
            assert (await client.post("/things")).status_code == 201
            os.kill(postgres.proc.pid, signal.SIGKILL)
            await postgres.proc.wait()
            answers = []
            for _ in range(5):
                started = time.monotonic()
                response = await client.post("/things")
                answers.append((response, time.monotonic() - started))
            for response, seconds in answers:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert int(response.headers["retry-after"]) >= 1
                assert seconds < 3, f"an outage answer took {seconds:.1f}s"
            await postgres.start()
            back = await client.post("/things")
            assert back.status_code == 201 and back.json() == {"value": 42}
    finally:
        await database.dispose()
        await postgres.stop()
