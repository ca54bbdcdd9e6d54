"""User lifecycle, password rules, refresh rotation, reset tokens, API clients and keys,
against the gateway in process with a real database and broker."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from innopark_gateway.main import create_app

from .conftest import serve
from .test_identity import ADMIN_PASSWORD, announce_partner, create_bound, migrated, token

__all__ = ["migrated"]  # the session fixture, shared with test_identity

STRONG = "amber-quarry-tundra-51"


@pytest.fixture
async def gw(migrated, make_settings, infra):
    admin = f"admin-{uuid.uuid4().hex[:8]}@innopark.test"
    settings = make_settings(
        database_url=migrated,
        bootstrap_admin_email=admin,
        bootstrap_admin_password=ADMIN_PASSWORD,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        outbox_poll_interval_seconds=0.5,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        admin_token = await token(
            http, grant_type="password", username=admin, password=ADMIN_PASSWORD
        )
        http.admin = {"Authorization": f"Bearer {admin_token}"}  # type: ignore[attr-defined]
        yield http


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )


async def new_user(http, role: str = "expert", **extra) -> tuple[dict, str, str]:
    """(user, e-mail, access token)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@park.test"
    r = await create_bound(
        http, http.admin, {"email": email, "password": STRONG, "role": role, **extra}
    )
    assert r.status_code == 201, r.text
    signed_in = await login(http, email, STRONG)
    assert signed_in.status_code == 200, signed_in.text
    return r.json(), email, signed_in.json()["access_token"]


async def refused_within(http, headers: dict[str, str], seconds: float = 1.0) -> float:
    """How long until `headers` stop opening /users/me (asserts: within `seconds`)."""
    started = time.monotonic()
    while (await http.get("/api/v1/users/me", headers=headers)).status_code != 401:
        assert time.monotonic() - started < seconds, "token still accepted"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-1A!", "at least 12"),
        ("{local}-and-more", "e-mail"),
        ("password1234", "commonly used"),
        ("Password2024!!", "commonly used"),
        ("1q2w3e4r5t6y", "commonly used"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
    ],
)
async def test_password_rules_are_422_naming_the_field(gw, password, why):
    local = f"rules{uuid.uuid4().hex[:6]}"
    body = {
        "email": f"{local}@park.test",
        "password": password.format(local=local),
        "role": "expert",
    }
    r = await gw.post("/api/v1/users", json=body, headers=gw.admin)
    assert r.status_code == 422, r.text
    error = r.json()["errors"][0]
    assert error["field"] == "password" and error["type"] == "weak_password"
    assert why in error["message"]


async def test_operator_changes_disables_enables_and_deletes_a_user(gw, infra):
    user, email, user_token = await new_user(gw)
    # Name changes leave tokens valid.
    r = await gw.patch(f"/api/v1/users/{user['id']}", json={"name": "Dr Ivanova"}, headers=gw.admin)
    assert r.status_code == 200 and r.json()["name"] == "Dr Ivanova"
    assert (await gw.get("/api/v1/users/me", headers=bearer(user_token))).status_code == 200

    # A role needs its binding, and the binding must exist.
    r = await gw.patch(f"/api/v1/users/{user['id']}", json={"role": "partner"}, headers=gw.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "partner_id"
    unknown = {"role": "partner", "partner_id": str(uuid.uuid4())}
    r = await gw.patch(f"/api/v1/users/{user['id']}", json=unknown, headers=gw.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "partner_id"
    assert r.json()["errors"][0]["type"] == "unknown"
    r = await gw.post(
        "/api/v1/users",
        json={"email": f"p-{uuid.uuid4().hex[:6]}@x.test", "password": STRONG, **unknown},
        headers=gw.admin,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "partner_id"
    partner_id = await announce_partner(infra)
    deadline = time.monotonic() + 30
    while True:
        r = await gw.patch(
            f"/api/v1/users/{user['id']}",
            json={"role": "partner", "partner_id": partner_id},
            headers=gw.admin,
        )
        if r.status_code != 422 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert r.status_code == 200 and r.json()["partner_id"] == partner_id, r.text
    # The old token carried the old role: refused within a second.
    await refused_within(gw, bearer(user_token))
    relogin = await login(gw, email, STRONG)
    assert relogin.status_code == 200
    partner_token = relogin.json()["access_token"]
    me = await gw.get("/api/v1/users/me", headers=bearer(partner_token))
    assert me.json()["role"] == "partner"

    # Disabled: no login, and the token held is refused within a second.
    r = await gw.patch(f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=gw.admin)
    assert r.status_code == 200 and r.json()["is_active"] is False
    await refused_within(gw, bearer(partner_token))
    assert (await login(gw, email, STRONG)).status_code == 400
    r = await gw.patch(f"/api/v1/users/{user['id']}", json={"is_active": True}, headers=gw.admin)
    assert r.status_code == 200
    assert (await login(gw, email, STRONG)).status_code == 200

    # null for a field a user cannot be without; an operator cannot disable themselves.
    r = await gw.patch(f"/api/v1/users/{user['id']}", json={"role": None}, headers=gw.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"
    me_id = (await gw.get("/api/v1/users/me", headers=gw.admin)).json()["id"]
    r = await gw.patch(f"/api/v1/users/{me_id}", json={"is_active": False}, headers=gw.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "is_active"

    # Deleted: gone, and its tokens with it.
    last = (await login(gw, email, STRONG)).json()["access_token"]
    assert (await gw.delete(f"/api/v1/users/{user['id']}", headers=gw.admin)).status_code == 204
    assert (await gw.get(f"/api/v1/users/{user['id']}", headers=gw.admin)).status_code == 404
    await refused_within(gw, bearer(last))


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(gw):
    _, email, _ = await new_user(gw)
    first = (await login(gw, email, STRONG)).json()
    assert first["refresh_token"].startswith("iprt_") and first["expires_in"] <= 900

    async def refresh(value: str) -> httpx.Response:
        return await gw.post(
            "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": value}
        )

    second = await refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert (await gw.get("/api/v1/users/me", headers=bearer(body["access_token"]))).json()[
        "email"
    ] == email
    # The first one again (a thief replaying it): refused, and the family with it.
    reused = await refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "family" in reused.json()["detail"]
    assert (await refresh(body["refresh_token"])).status_code == 400
    assert (await refresh("iprt_nonsense")).status_code == 400
    # A fresh login starts a new family.
    third = (await login(gw, email, STRONG)).json()
    assert (await refresh(third["refresh_token"])).status_code == 200


async def test_password_reset_token_works_once(gw):
    user, email, held = await new_user(gw)
    r = await gw.post(f"/api/v1/users/{user['id']}/password-reset", headers=gw.admin)
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    reset = r.json()["reset_token"]
    assert reset.startswith("iprs_")

    weak = await gw.post(
        "/api/v1/auth/password-reset", json={"token": reset, "new_password": "password1234"}
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    new_password = "cobalt-meadow-river-88"
    done = await gw.post(
        "/api/v1/auth/password-reset", json={"token": reset, "new_password": new_password}
    )
    assert done.status_code == 204, done.text
    assert (await login(gw, email, STRONG)).status_code == 400
    assert (await login(gw, email, new_password)).status_code == 200
    await refused_within(gw, bearer(held))
    again = await gw.post(
        "/api/v1/auth/password-reset",
        json={"token": reset, "new_password": "another-one-entirely-9"},
    )
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "token"
    assert (await login(gw, email, new_password)).status_code == 200


async def test_users_change_their_own_password_with_the_current_one(gw):
    _, email, held = await new_user(gw)
    url, headers = "/api/v1/users/me/password", bearer(held)
    wrong = await gw.post(
        url, json={"current_password": "not-it-at-all", "new_password": "x"}, headers=headers
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    weak = await gw.post(
        url, json={"current_password": STRONG, "new_password": email}, headers=headers
    )
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "new_password"
    new_password = "saffron-glacier-piano-3"
    ok = await gw.post(
        url, json={"current_password": STRONG, "new_password": new_password}, headers=headers
    )
    assert ok.status_code == 204, ok.text
    await refused_within(gw, headers)
    assert (await login(gw, email, new_password)).status_code == 200


async def test_api_clients_have_scopes_never_operator_and_rotate_secrets(gw, infra):
    r = await gw.post(
        "/api/v1/api-clients", json={"name": "root", "role": "operator"}, headers=gw.admin
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "role"
    r = await gw.post(
        "/api/v1/api-clients",
        json={"name": "x", "role": "expert", "scopes": ["everything"]},
        headers=gw.admin,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("scopes")
    r = await gw.post(
        "/api/v1/api-clients",
        json={"name": "Reviewer bot", "role": "expert", "scopes": ["orders:read"]},
        headers=gw.admin,
    )
    assert r.status_code == 201, r.text
    client_id, old_secret = r.json()["client_id"], r.json()["client_secret"]

    async def grant(secret: str, **extra: str) -> httpx.Response:
        return await gw.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                **extra,
            },
        )

    first = await grant(old_secret)
    assert first.status_code == 200 and first.json()["scope"] == "orders:read"
    assert (await grant(old_secret, scope="orders:write")).json()["error"] == "invalid_scope"

    rotated = await gw.post(
        f"/api/v1/api-clients/{client_id}/rotate-secret",
        json={"grace_seconds": 3600},
        headers=gw.admin,
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert new_secret != old_secret and rotated.json()["previous_secret_expires_at"]
    # Both work during the switch; a rotation without grace ends the old one at once.
    assert (await grant(old_secret)).status_code == 200
    assert (await grant(new_secret)).status_code == 200
    final = await gw.post(
        f"/api/v1/api-clients/{client_id}/rotate-secret",
        json={"grace_seconds": 0},
        headers=gw.admin,
    )
    newest = final.json()["client_secret"]
    assert (await grant(new_secret)).status_code == 401
    held = (await grant(newest)).json()["access_token"]

    # Revoked: its token is refused on the gateway's own routes within a second.
    keys_url = "/api/v1/api-keys"
    assert (await gw.get(keys_url, headers=bearer(held))).status_code == 200
    await gw.post(f"/api/v1/api-clients/{client_id}/revoke", headers=gw.admin)
    started = time.monotonic()
    while (await gw.get(keys_url, headers=bearer(held))).status_code != 401:
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)


async def test_api_keys_belong_to_a_partner_and_are_shown_once(gw, infra):
    partner_id = await announce_partner(infra)
    other_partner = await announce_partner(infra)
    _, _, partner_token = await new_user(gw, "partner", partner_id=partner_id)
    headers = bearer(partner_token)
    body = {"name": "ERP sync", "scopes": ["orders:read"]}
    r = await gw.post("/api/v1/api-keys", json=body, headers=headers)
    assert r.status_code == 201, r.text
    key = r.json()
    assert (
        key["key"].startswith(key["prefix"]) and key["prefix"] == f"ipk_{uuid.UUID(key['id']).hex}_"
    )
    assert key["partner_id"] == partner_id and key["role"] == "partner"
    assert r.headers["cache-control"] == "no-store"
    listed = (await gw.get("/api/v1/api-keys", headers=headers)).json()["items"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]

    # Not for another partner; operators must name one that exists; no empty scopes.
    r = await gw.post(
        "/api/v1/api-keys", json={**body, "partner_id": other_partner}, headers=headers
    )
    assert r.status_code == 403
    r = await gw.post("/api/v1/api-keys", json=body, headers=gw.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "partner_id"
    r = await gw.post(
        "/api/v1/api-keys", json={**body, "partner_id": str(uuid.uuid4())}, headers=gw.admin
    )
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "unknown"
    r = await gw.post("/api/v1/api-keys", json={"name": "x", "scopes": []}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scopes"
    r = await gw.post(
        "/api/v1/api-keys",
        json={**body, "expires_at": "2020-01-01T00:00:00Z"},
        headers=headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "expires_at"

    # Another partner's user sees none of it.
    _, _, other_token = await new_user(gw, "partner", partner_id=other_partner)
    assert (
        await gw.get(f"/api/v1/api-keys/{key['id']}", headers=bearer(other_token))
    ).status_code == 404
    revoked = await gw.post(f"/api/v1/api-keys/{key['id']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
