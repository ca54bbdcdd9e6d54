"""Two gateway processes spend from one rate limit held in Redis (the machine's, at
127.0.0.1:6379), and the RateLimit fields they answer with are read from that counter;
they count one account's failed logins together too."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(180)

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_two_gateways_share_one_limit(start_service, tmp_path_factory) -> None:
    keys = Path(tmp_path_factory.mktemp("shared-limit-keys"))
    shared = {
        "RATE_LIMIT_REDIS_URL": REDIS_URL,
        # A fresh bucket namespace per run: nothing left over from an earlier one.
        "RATE_LIMIT_REDIS_PREFIX": f"innopark-test:{uuid.uuid4().hex}:",
        # 4 requests, then one more every 10 s: the test runs long before a refill.
        "RATE_LIMIT_PER_MINUTE": "6",
        "RATE_LIMIT_BURST": "4",
        "JWT_PRIVATE_KEY_PATH": str(keys / "jwt.pem"),
    }
    first = await start_service("gateway", **shared)
    second = await start_service("gateway", **shared)
    answers = []
    async with httpx.AsyncClient(timeout=10) as client:
        for gateway in (first, second, first, second, first, second):
            answers.append(await client.get(f"{gateway.url}/api/v1/users/me"))
    statuses = [a.status_code for a in answers]
    assert 429 not in statuses[:4], statuses
    assert statuses[4:] == [429, 429]
    # One counter: each answer's remaining count follows the previous one, whichever
    # gateway served it.
    remaining = [a.headers["ratelimit"].split(";")[1] for a in answers]
    assert remaining == ["r=3", "r=2", "r=1", "r=0", "r=0", "r=0"]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == '"default";q=4;w=40'
    limited = answers[-1]
    assert limited.headers["content-type"] == "application/problem+json"
    assert 1 <= int(limited.headers["retry-after"]) <= 10


async def test_an_unreachable_redis_lets_requests_through(start_service, tmp_path_factory) -> None:
    keys = Path(tmp_path_factory.mktemp("no-redis-keys"))
    gateway = await start_service(
        "gateway",
        RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0",
        RATE_LIMIT_PER_MINUTE="6",
        RATE_LIMIT_BURST="1",
        LOGIN_FAILURE_BURST="2",
        JWT_PRIVATE_KEY_PATH=str(keys / "jwt.pem"),
    )
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [await client.get(f"{gateway.url}/api/v1/users/me") for _ in range(3)]
        # Failed logins are still counted meanwhile, by this process alone.
        guesses = [
            await client.post(
                f"{gateway.url}/api/v1/auth/token",
                data={"grant_type": "password", "username": "x@y.test", "password": "guess-1"},
            )
            for _ in range(3)
        ]
    # Not limited (and no RateLimit fields: there is no counter to report), never a 5xx.
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert all("ratelimit" not in a.headers for a in answers)
    assert [g.status_code for g in guesses] == [400, 400, 429]


async def test_two_gateways_count_failed_logins_together(start_service, tmp_path_factory) -> None:
    """Guesses spread over the replicas lock the account as soon as their sum reaches the
    burst: N replicas must not mean N times the guesses."""
    keys = Path(tmp_path_factory.mktemp("shared-login-keys"))
    shared = {
        "RATE_LIMIT_REDIS_URL": REDIS_URL,
        "RATE_LIMIT_REDIS_PREFIX": f"innopark-test:{uuid.uuid4().hex}:",
        "LOGIN_FAILURE_BURST": "3",
        "LOGIN_FAILURES_PER_MINUTE": "1",
        "JWT_PRIVATE_KEY_PATH": str(keys / "jwt.pem"),
    }
    first = await start_service("gateway", **shared)
    second = await start_service("gateway", **shared)
    account = f"someone-{uuid.uuid4().hex[:8]}@innopark.test"
    async with httpx.AsyncClient(timeout=10) as client:

        async def guess(gateway, username: str = account) -> httpx.Response:
            return await client.post(
                f"{gateway.url}/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": "guess-1234"},
            )

        wrong = [await guess(g) for g in (first, second, first)]
        assert [a.status_code for a in wrong] == [400, 400, 400], [a.text for a in wrong]
        # Three failures in all, none of the replicas saw more than two: both refuse now.
        for gateway in (second, first):
            locked = await guess(gateway)
            assert locked.status_code == 429, locked.text
            assert locked.headers["content-type"] == "application/problem+json"
            assert int(locked.headers["retry-after"]) >= 1
        # Another account is its own count.
        assert (await guess(second, f"other-{account}")).status_code == 400
