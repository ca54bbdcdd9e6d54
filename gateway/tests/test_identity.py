"""Users, API clients and the token endpoint against a real database (few, end to end
through the gateway's HTTP interface)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import innopark_gateway
import pytest
from innopark_gateway.main import create_app
from innopark_shared.contracts.orders import PartnerRegisteredV1
from innopark_shared.contracts.registry import ParkCreatedV1
from innopark_shared.migrations import upgrade

from .conftest import serve

MIGRATIONS = Path(innopark_gateway.__file__).parent / "migrations"
ADMIN_PASSWORD = "bootstrap-secret"
PM_PASSWORD = "violet-harbour-lantern-7"


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> str:
    # Alembic's env runs its own event loop: keep it off this one.
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url)
    return database_url


async def known(infra, event) -> None:
    """Announce a park or partner as the registry or orders would (a real event)."""
    await infra.publish(event, source="/innopark/test")


async def announce_park(infra, http: httpx.AsyncClient, auth: dict[str, str]) -> str:
    """A park the gateway has learnt of from a real ParkCreatedV1 (it may be bound to)."""
    park_id = uuid.uuid4()
    await known(
        infra,
        ParkCreatedV1(
            park_id=park_id,
            name="Test park",
            kind="technopark",
            country="RU",
            region="Kazan",
            created_at=datetime.now(UTC),
        ),
    )
    return str(park_id)


async def announce_partner(infra) -> str:
    partner_id = uuid.uuid4()
    await known(
        infra,
        PartnerRegisteredV1(
            partner_id=partner_id, name="ACME", country="DE", occurred_at=datetime.now(UTC)
        ),
    )
    return str(partner_id)


async def create_bound(http, auth, body: dict) -> httpx.Response:
    """POST /users, waiting for a just-announced binding to reach the read model."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        r = await http.post("/api/v1/users", json=body, headers=auth)
        unknown = r.status_code == 422 and any(
            e["type"] == "unknown" for e in r.json().get("errors", [])
        )
        if not unknown or asyncio.get_running_loop().time() > deadline:
            return r
        await asyncio.sleep(0.2)


@pytest.fixture
async def client(migrated, make_settings, infra):
    admin = f"admin-{uuid.uuid4().hex[:8]}@Innopark.test"  # mixed case on purpose
    settings = make_settings(
        database_url=migrated,
        bootstrap_admin_email=admin,
        bootstrap_admin_password=ADMIN_PASSWORD,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        outbox_poll_interval_seconds=0.5,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        http.admin_email = admin  # type: ignore[attr-defined]
        yield http


async def token(http: httpx.AsyncClient, **form: str) -> str:
    response = await http.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert response.headers["cache-control"] == "no-store"
    return body["access_token"]


async def test_users_and_password_grant(client, infra):
    # Readiness: the database and the broker (the gateway publishes and consumes).
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    admin = await token(
        client, grant_type="password", username=client.admin_email.lower(), password=ADMIN_PASSWORD
    )
    auth = {"Authorization": f"Bearer {admin}"}
    me = (await client.get("/api/v1/users/me", headers=auth)).json()
    assert me["role"] == "operator" and me["email"] == client.admin_email.lower()

    wrong = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": client.admin_email, "password": "nope-nope"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.headers["content-type"] == "application/problem+json"
    unknown = await client.post("/api/v1/auth/token", data={"grant_type": "implicit"})
    assert unknown.json()["error"] == "unsupported_grant_type"

    park_id = await announce_park(infra, client, auth)
    email = f"PM-{uuid.uuid4().hex[:8]}@park.test"
    new = {"email": email, "password": PM_PASSWORD, "role": "park_manager", "park_id": park_id}
    created = await create_bound(client, auth, new)
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["location"] == f"/api/v1/users/{user['id']}"
    assert "password" not in user and "password_hash" not in user
    assert user["email"] == email.lower()

    duplicate = await client.post(
        "/api/v1/users", json={**new, "email": email.upper()}, headers=auth
    )
    assert duplicate.status_code == 409
    unbound = await client.post(
        "/api/v1/users",
        headers=auth,
        json={
            "email": f"r-{uuid.uuid4().hex[:8]}@park.test",
            "password": "long-enough-passphrase",
            "role": "resident",
        },
    )
    assert unbound.status_code == 422
    assert [e["field"] for e in unbound.json()["errors"]] == ["resident_id"]

    # The new user signs in; the token carries the binding; operator routes are closed.
    pm = await token(client, grant_type="password", username=email, password=PM_PASSWORD)
    pm_auth = {"Authorization": f"Bearer {pm}"}
    assert (await client.get("/api/v1/users/me", headers=pm_auth)).json()["park_id"] == park_id
    assert (await client.get("/api/v1/users", headers=pm_auth)).status_code == 403
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=pm_auth)).status_code == 403
    assert (await client.get("/api/v1/users")).status_code == 401
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=auth)).json() == user

    # Keyset pages: every user exactly once, oldest first.
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users", params=params, headers=auth)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and user["id"] in seen and me["id"] in seen
    assert seen.index(me["id"]) < seen.index(user["id"])


async def test_api_client_credentials(client, infra):
    admin = await token(
        client, grant_type="password", username=client.admin_email, password=ADMIN_PASSWORD
    )
    auth = {"Authorization": f"Bearer {admin}"}
    partner_id = await announce_partner(infra)

    async def create_client() -> httpx.Response:
        return await client.post(
            "/api/v1/api-clients",
            headers=auth,
            json={
                "name": "ACME integration",
                "role": "partner",
                "partner_id": partner_id,
                "scopes": ["orders:read"],
            },
        )

    created = await create_client()
    for _ in range(150):  # the partner's event reaches the read model in a moment
        if created.status_code != 422:
            break
        await asyncio.sleep(0.2)
        created = await create_client()
    assert created.status_code == 201, created.text
    body = created.json()
    secret, client_id = body["client_secret"], body["client_id"]
    listed = await client.get("/api/v1/api-clients", headers=auth, params={"limit": 200})
    assert all("client_secret" not in item for item in listed.json()["items"])

    machine = await token(
        client, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {machine}"})
    assert me.status_code == 404  # authenticated, but an API client is not a user
    basic = await client.post(
        "/api/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert basic.status_code == 200

    await client.post(f"/api/v1/api-clients/{client_id}/revoke", headers=auth)
    revoked = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_client"


async def test_repeated_failed_logins_lock_the_account_for_a_while(migrated, make_settings, infra):
    admin = f"admin-{uuid.uuid4().hex[:8]}@innopark.test"
    settings = make_settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        database_url=migrated,
        bootstrap_admin_email=admin,
        bootstrap_admin_password=ADMIN_PASSWORD,
        login_failure_burst=3,
        login_failures_per_minute=1,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:

        def attempt(password: str, username: str = admin):
            return http.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )

        for _ in range(3):
            assert (await attempt("guess-guess")).status_code == 400
        locked = await attempt("guess-guess")
        assert locked.status_code == 429
        assert locked.headers["content-type"] == "application/problem+json"
        assert int(locked.headers["retry-after"]) >= 1
        # The right password is refused too while locked: the answer leaks nothing.
        assert (await attempt(ADMIN_PASSWORD)).status_code == 429
        # Other accounts are unaffected (case-insensitive e-mail is one account).
        assert (await attempt("guess-guess", username=admin.upper())).status_code == 429
        other = await attempt("guess-guess", username=f"x{admin}")
        assert other.status_code == 400
