"""Gateway test fixtures: real servers on loopback ports, started inside the test loop.

`database_url` (a fresh database) comes from the shared test plugin
(`innopark_shared.testing`, registered by the repository's root conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from innopark_gateway.config import GatewaySettings

# A database URL nothing listens on: proxy tests never touch the database.
NO_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in this event loop; yields its base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="auto", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # raises the start-up error
                    raise RuntimeError("server exited during start-up")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., GatewaySettings]:
    def make(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "database_url": NO_DATABASE,
            "jwt_private_key_path": tmp_path / "keys" / "jwt.pem",
            "environment": "test",
            # Not from the environment of whoever runs the tests.
            "bootstrap_admin_email": None,
            "bootstrap_admin_password": None,
            "cors_allow_origins": [],
            "rate_limit_per_minute": 0,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return make
