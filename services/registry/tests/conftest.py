"""The registry runs once per test session as a real process (real PostgreSQL and broker)."""

from __future__ import annotations

import uuid

import pytest_asyncio


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def registry(start_service):
    return await start_service("registry")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(registry):
    async with registry.client() as client:
        yield client


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def park_body(**overrides):
    body = {
        "name": "Technopark " + uuid.uuid4().hex[:6],
        "kind": "technopark",
        "country": "RU",
        "region": "Region " + uuid.uuid4().hex[:6],
        "specializations": ["it"],
    }
    body.update(overrides)
    return body
