"""OWASP API Security Top 10 (2023) against the whole platform, through the gateway.

One world of two tenants per kind (parks A and B with their managers, residents X in A
and Y in B, partners P and Q, an assigned and an unassigned expert, anonymous callers),
then every operation of every service's OpenAPI (as the gateway's portal serves it) that
takes an id is tried against tenant A's objects:

- API1 object-level authorization: every outsider (anonymous, B's manager, resident Y,
  partner Q, the unassigned expert) on every A-side object, reads and writes. A write by
  an outsider never succeeds and changes nothing; a read succeeds only where the object is
  public, and then carries none of A's secrets (contacts, tokens, the confidential
  requester, the proposer before the shortlist...).
- API3 mass assignment: role and binding fields in POST/PATCH bodies are refused.
- API5 function-level authorization: the operator's and the partners' functions answer
  401/403 to every other role.
- API2 broken authentication: forged (other key, alg none, HS256 with the public key),
  re-targeted (audience, issuer) and expired tokens are refused by the gateway and by
  every service; a re-signed copy of a real token is the control that still passes.
- API7 SSRF: webhook targets on loopback, link-local, private and other non-public
  ranges are refused at registration; names that resolve to them are accepted (they are
  names) but never reached at delivery.

The matrix it tried is printed (`-s` shows it): operation x role -> status.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from innopark_shared.testing import Platform, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SPECS = ["gateway", "registry", "orders", "accreditation", "events"]
WRITES = {"post", "put", "patch", "delete"}
OUTSIDERS = ["anonymous", "manager_b", "resident_y", "partner_q", "stranger_expert"]
INSIDERS = ["operator", "manager_a", "resident_x", "partner_p", "expert"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@dataclass
class World:
    """Tenant A's objects (and B's principals) built through the gateway."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    # Strings that belong to tenant A and must never reach an outsider.
    secrets: dict[str, str] = field(default_factory=dict)
    # A complete, valid score sheet (so only the assignment can refuse an expert's).
    scores: list[dict[str, Any]] = field(default_factory=list)


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else {}


async def _build_world(platform: Platform) -> World:
    w = World()
    operator = await platform.login()
    w.headers["operator"] = operator
    w.headers["anonymous"] = {}
    x_contact = f"{unique('x-contact')}@resident-x.example"
    proposal_contact = f"{unique('x-proposal')}@resident-x.example"
    registrant = f"{unique('registrant')}@visitor.example"
    async with platform.client() as c:
        parks = {}
        for side in ("a", "b"):
            parks[side] = (
                await _ok(
                    await c.post(
                        "/api/v1/parks",
                        headers=operator,
                        json={
                            "name": unique(f"Technopark {side.upper()}"),
                            "kind": "technopark",
                            "country": "RU",
                            "region": "Tatarstan",
                            "specializations": ["polymers"],
                        },
                    ),
                    201,
                )
            )["id"]
        w.ids["park_id"] = parks["a"]
        residents = {}
        for side, email in (("x", x_contact), ("y", None)):
            park = parks["a" if side == "x" else "b"]
            residents[side] = (
                await _ok(
                    await c.post(
                        f"/api/v1/parks/{park}/residents",
                        headers=operator,
                        json={
                            "name": unique(f"Resident {side.upper()}"),
                            "technologies": ["polymers"],
                            "contact_email": email,
                        },
                    ),
                    201,
                )
            )["id"]
        w.ids["resident_id"] = residents["x"]
        w.secrets["resident X's contact"] = x_contact
        partners = {}
        for side in ("p", "q"):
            partners[side] = (
                await _ok(
                    await c.post(
                        "/api/v1/partners",
                        headers=operator,
                        json={
                            "name": unique(f"Partner {side.upper()}"),
                            "country": "DE",
                            "contact_email": f"{unique('bd')}@partner-{side}.example",
                        },
                    ),
                    201,
                )
            )["id"]
        w.ids["partner_id"] = partners["p"]
        w.ids["partner_q"] = partners["q"]
        # P is the requester of a confidential order: its id is A-side secret for it.
        w.secrets["partner P's id"] = partners["p"]
        cluster = await _ok(
            await c.post(
                "/api/v1/clusters",
                headers=operator,
                json={
                    "name": unique("Polymer cluster"),
                    "country": "RU",
                    "region": "Tatarstan",
                    "coordinator_park_id": parks["a"],
                },
            ),
            201,
        )
        w.ids["cluster_id"] = cluster["id"]
        agreement = await _ok(
            await c.post(
                "/api/v1/agreements",
                headers=operator,
                json={
                    "title": unique("Cooperation"),
                    "parties": [
                        {"name": "Park A", "park_id": parks["a"]},
                        {"name": "Foreign partner", "country": "CN"},
                    ],
                },
            ),
            201,
        )
        w.ids["agreement_id"] = agreement["id"]

    users = {
        "manager_a": ("park_manager", {"park_id": parks["a"]}),
        "manager_b": ("park_manager", {"park_id": parks["b"]}),
        "resident_x": ("resident", {"resident_id": residents["x"]}),
        "resident_y": ("resident", {"resident_id": residents["y"]}),
        "partner_p": ("partner", {"partner_id": partners["p"]}),
        "partner_q": ("partner", {"partner_id": partners["q"]}),
        "expert": ("expert", {}),
        "stranger_expert": ("expert", {}),
    }
    for name, (role, binding) in users.items():
        user_id, headers = await platform.create_user(operator, role, **binding)
        w.headers[name] = headers
        w.ids[f"user:{name}"] = user_id
    w.ids["user_id"] = w.ids["user:manager_a"]
    w.ids["expert_id"] = w.ids["user:expert"]
    partner_p, resident_x = w.headers["partner_p"], w.headers["resident_x"]

    async with platform.client() as c:
        client = await _ok(
            await c.post(
                "/api/v1/api-clients",
                headers=operator,
                json={"name": unique("P's system"), "role": "partner", "partner_id": partners["p"]},
            ),
            201,
        )
        w.ids["client_id"] = client["id"]
        w.secrets["P's client secret"] = client["client_secret"]
        hook_host = f"{unique('hooks')}.partner-p.example"
        hook = await _ok(
            await c.post(
                "/api/v1/webhooks", headers=partner_p, json={"url": f"https://{hook_host}/in"}
            ),
            201,
        )
        w.ids["endpoint_id"] = hook["id"]
        w.secrets["P's webhook host"] = hook_host
        w.secrets["P's webhook secret"] = hook["secret"]

        orders = {}
        for name, confidential in (("open", False), ("confidential", True), ("draft", False)):
            made = await _ok(
                await c.post(
                    "/api/v1/orders",
                    headers=partner_p,
                    json={
                        "title": unique(f"{name} order"),
                        "description": "Recycling mixed polymer waste at pilot scale",
                        "technology_tags": ["polymers"],
                        "deadline": in_days(40),
                        "confidential": confidential,
                    },
                ),
                201,
            )
            orders[name] = made["id"]
            if name != "draft":
                await _ok(await c.post(f"/api/v1/orders/{made['id']}/submit", headers=partner_p))
                await _ok(await c.post(f"/api/v1/orders/{made['id']}/publish", headers=operator))
        w.ids.update({f"order:{k}": v for k, v in orders.items()})
        w.ids["order_id"] = orders["confidential"]
        proposal = await _ok(
            await c.post(
                f"/api/v1/orders/{orders['confidential']}/proposals",
                headers=resident_x,
                json={"summary": "Our pilot line", "contact_email": proposal_contact},
            ),
            201,
        )
        w.ids["proposal_id"] = proposal["id"]
        w.secrets["X's proposal"] = proposal["id"]
        w.secrets["X's proposal contact"] = proposal_contact

        async def delivery_logged() -> bool:
            got = await c.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=partner_p)
            return got.status_code == 200 and bool(got.json()["items"])

        assert await wait_until(delivery_logged, timeout=15)
        deliveries = (
            await c.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=partner_p)
        ).json()
        w.ids["delivery_id"] = deliveries["items"][0]["id"]
        # The same message in the partner's catch-up feed (sent again from there).
        w.ids["message_id"] = deliveries["items"][0]["message_id"]

        start = datetime.now(UTC) + timedelta(days=20)
        event = await _ok(
            await c.post(
                "/api/v1/events",
                headers=operator,
                json={
                    "title": unique("Open Innovations forum"),
                    "type": "forum",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=8)).isoformat(),
                    "capacity": 20,
                    "timezone": "Europe/Moscow",
                },
            ),
            201,
        )
        w.ids["event_id"] = event["id"]
        await _ok(await c.post(f"/api/v1/events/{event['id']}/publish", headers=operator))
        session = await _ok(
            await c.post(
                f"/api/v1/events/{event['id']}/sessions",
                headers=operator,
                json={
                    "title": "Opening",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=1)).isoformat(),
                },
            ),
            201,
        )
        w.ids["session_id"] = session["id"]
        registration = await _ok(
            await c.post(
                f"/api/v1/events/{event['id']}/registrations",
                json={"full_name": "Visitor", "email": registrant},
            ),
            201,
        )
        w.ids["registration_id"] = registration["id"]
        w.secrets["registrant's email"] = registrant
        w.secrets["registration token"] = registration["token"]
        w.secrets["ticket code"] = registration["ticket_code"]
        w.ids["ticket_code"] = registration["ticket_code"]

        # Accreditation: park A's certificate, its monitoring report, and a new draft.
        async def park_known() -> bool:
            return (await c.get(f"/api/v1/accreditation/parks/{parks['a']}")).status_code == 200

        assert await wait_until(park_known, timeout=15)
        manager_a, expert = w.headers["manager_a"], w.headers["expert"]
        current = await _ok(await c.get("/api/v1/accreditation/catalogues/current"))
        w.ids["catalogue_id"] = current["id"]
        criteria = [x for h in current["headings"] for x in h["criteria"]]
        self_assessment = [
            {"criterion_id": x["id"], "score": x["scale_max"], "evidence": []} for x in criteria
        ]
        applied = await _ok(
            await c.post(
                "/api/v1/accreditation/applications",
                headers=manager_a,
                json={"summary": "First accreditation", "self_assessment": self_assessment},
            ),
            201,
        )
        url = f"/api/v1/accreditation/applications/{applied['id']}"
        await _ok(await c.post(f"{url}/submit", headers=manager_a))
        await _ok(
            await c.post(f"{url}/experts", headers=operator, json={"expert_id": w.ids["expert_id"]})
        )
        scores = [{"criterion_id": x["id"], "score": x["scale_max"]} for x in criteria]
        w.scores = scores
        await _ok(await c.put(f"{url}/scores", headers=expert, json={"scores": scores}))
        decided = await _ok(
            await c.post(
                f"{url}/decision",
                headers=operator,
                json={"outcome": "granted", "level": "gold", "reasons": "All met"},
            )
        )
        w.ids["number"] = decided["decision"]["certificate_number"]
        report_summary = unique("monitoring summary")
        report = await _ok(
            await c.post(
                f"/api/v1/certificates/{w.ids['number']}/monitoring-reports",
                headers=manager_a,
                json={"year": datetime.now(UTC).year, "summary": report_summary},
            ),
            201,
        )
        w.ids["report_id"] = report["id"]
        w.secrets["A's monitoring report"] = report_summary
        draft_summary = unique("renewal plans")
        draft = await _ok(
            await c.post(
                "/api/v1/accreditation/applications",
                headers=manager_a,
                json={"summary": draft_summary, "self_assessment": self_assessment},
            ),
            201,
        )
        w.ids["application_id"] = draft["id"]
        w.secrets["A's draft application"] = draft_summary
    return w


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(platform: Platform) -> World:
    return await _build_world(platform)


# -- the operations, from the gateway's portal ------------------------------------------


@dataclass(frozen=True)
class Operation:
    spec: str
    method: str
    path: str

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def __str__(self) -> str:
        return f"{self.method.upper():6} {self.path}"


async def operations(platform: Platform) -> list[Operation]:
    """Every operation once: the gateway's /openapi.json merges the services' documents,
    so an operation found in a service's own document as well is not walked twice."""
    found: dict[tuple[str, str], Operation] = {}
    async with platform.client() as c:
        for name in SPECS:
            url = "/openapi.json" if name == "gateway" else f"/docs/specs/{name}.json"
            spec = (await c.get(url)).json()
            for path, item in spec["paths"].items():
                for method in item:
                    if method in WRITES | {"get"}:
                        found.setdefault((method, path), Operation(name, method, path))
    return list(found.values())


# Per-operation ids that differ from the default for the parameter (a draft to edit).
PARAM_OVERRIDES = {
    ("patch", "/api/v1/orders/{order_id}"): {"order_id": "order:draft"},
    ("post", "/api/v1/orders/{order_id}/submit"): {"order_id": "order:draft"},
}

# Plausible bodies, so that only authorization can stop an outsider (not validation).
BODIES: dict[tuple[str, str], Callable[[World], Any]] = {
    ("patch", "/api/v1/parks/{park_id}"): lambda w: {"description": "pwned"},
    ("post", "/api/v1/parks/{park_id}/residents"): lambda w: {
        "name": "Pwned Ltd",
        "technologies": ["pwn"],
    },
    ("post", "/api/v1/parks/{park_id}/kpi-reports"): lambda w: {
        "year": datetime.now(UTC).year,
        "residents": 1,
        "jobs": 1,
        "resident_revenue": "1",
        "taxes_paid": "1",
        "investments_attracted": "1",
        "area_occupied": "1",
    },
    ("patch", "/api/v1/residents/{resident_id}"): lambda w: {"description": "pwned"},
    ("patch", "/api/v1/clusters/{cluster_id}"): lambda w: {"description": "pwned"},
    ("patch", "/api/v1/agreements/{agreement_id}"): lambda w: {"scope": "pwned"},
    ("patch", "/api/v1/partners/{partner_id}"): lambda w: {"name": "pwned"},
    ("patch", "/api/v1/orders/{order_id}"): lambda w: {"title": "pwned"},
    ("post", "/api/v1/orders/{order_id}/return"): lambda w: {"comment": "pwned"},
    ("post", "/api/v1/proposals/{proposal_id}/reject"): lambda w: {"reason": "other"},
    ("patch", "/api/v1/webhooks/{endpoint_id}"): lambda w: {"enabled": False},
    ("patch", "/api/v1/accreditation/applications/{application_id}"): lambda w: {
        "summary": "pwned"
    },
    ("post", "/api/v1/accreditation/applications/{application_id}/experts"): lambda w: {
        "expert_id": w.ids["user:stranger_expert"]
    },
    ("put", "/api/v1/accreditation/applications/{application_id}/scores"): lambda w: {
        "scores": w.scores
    },
    ("post", "/api/v1/accreditation/applications/{application_id}/decision"): lambda w: {
        "outcome": "refused",
        "reasons": "pwned",
    },
    ("patch", "/api/v1/certificates/{number}"): lambda w: {"valid_until": "2099-12-31"},
    ("post", "/api/v1/certificates/{number}/suspend"): lambda w: {"reason": "pwned"},
    ("post", "/api/v1/certificates/{number}/revoke"): lambda w: {"reason": "pwned"},
    ("post", "/api/v1/certificates/{number}/monitoring-reports"): lambda w: {
        "year": datetime.now(UTC).year,
        "summary": "pwned",
    },
    ("patch", "/api/v1/events/{event_id}"): lambda w: {"title": "pwned"},
    ("post", "/api/v1/events/{event_id}/sessions"): lambda w: {
        "title": "pwned",
        "starts_at": in_days(20),
        "ends_at": in_days(21),
    },
    ("post", "/api/v1/events/{event_id}/check-in"): lambda w: {"ticket_code": w.ids["ticket_code"]},
    ("put", "/api/v1/events/{event_id}/registrations/{registration_id}/travel-details"): lambda w: {
        "passport_name": "PWNED",
        "nationality": "CN",
        "date_of_birth": "1980-01-01",
        "passport_number": "E12345678",
        "stay_from": in_days(19)[:10],
        "stay_to": in_days(22)[:10],
    },
    ("patch", "/api/v1/users/{user_id}"): lambda w: {"role": "operator"},
}

# Writes that are open to outsiders by design (not sent: they would create objects).
OPEN_WRITES = {
    ("post", "/api/v1/events/{event_id}/registrations"),  # anyone registers to a public event
    ("post", "/api/v1/orders/{order_id}/proposals"),  # every proposer answers published orders
}


SIGNED_IN = set(OUTSIDERS) - {"anonymous"}
PROPOSERS = {"manager_b", "resident_y"}
# Reads open to outsiders by design, and to which of them (their answers are still
# searched for every one of A's secrets).
PUBLIC_READS: dict[str, set[str]] = {
    "/api/v1/parks/{park_id}": set(OUTSIDERS),
    "/api/v1/parks/{park_id}/residents": set(OUTSIDERS),
    "/api/v1/residents/{resident_id}": set(OUTSIDERS),
    "/api/v1/clusters/{cluster_id}": set(OUTSIDERS),
    "/api/v1/agreements/{agreement_id}": SIGNED_IN,
    "/api/v1/accreditation/catalogues/{catalogue_id}": set(OUTSIDERS),
    "/api/v1/accreditation/parks/{park_id}": set(OUTSIDERS),
    "/api/v1/certificates/{number}": set(OUTSIDERS),
    "/api/v1/events/{event_id}": set(OUTSIDERS),
    "/api/v1/events/{event_id}/sessions": set(OUTSIDERS),
    "/api/v1/events/{event_id}/seats": set(OUTSIDERS),
    # A published order is open to every proposer; the requester stays hidden.
    "/api/v1/orders/{order_id}": PROPOSERS,
    # A proposer lists its own proposals to it (none here).
    "/api/v1/orders/{order_id}/proposals": PROPOSERS,
}


def _public_read(op: Operation, role: str) -> bool:
    return op.method == "get" and role in PUBLIC_READS.get(op.path, set())


async def _probe(
    c: httpx.AsyncClient, w: World, op: Operation, role: str
) -> tuple[int | None, str]:
    overrides = PARAM_OVERRIDES.get((op.method, op.path), {})
    values = {}
    for name in op.params:
        key = overrides.get(name, name)
        if key not in w.ids:
            return None, f"no value for {{{name}}}"
        values[name] = w.ids[key]
    url = op.path.format(**values)
    body = BODIES.get((op.method, op.path))
    kwargs: dict[str, Any] = {"headers": w.headers[role]}
    if op.method in WRITES and op.method != "delete":
        kwargs["json"] = body(w) if body else {}
    r = await c.request(op.method.upper(), url, **kwargs)
    return r.status_code, r.text


async def test_no_cross_tenant_read_or_write(platform, world):
    """API1 + API5 on every operation with an id: the matrix, then what it must show."""
    w = world
    ops = [op for op in await operations(platform) if op.params]
    assert len(ops) >= 60, [str(o) for o in ops]  # the walk found the platform's operations
    roles = OUTSIDERS + INSIDERS
    matrix: dict[Operation, dict[str, str]] = {}
    breaches: list[str] = []
    notes: list[str] = []  # outsiders refused for another reason than who they are
    secrets = list(w.secrets.items())
    async with platform.client() as c:
        started = time.monotonic()
        for op in ops:
            row: dict[str, str] = {}
            key = (op.method, op.path)
            for role in roles:
                # Insiders only read: their writes would legitimately change the world.
                if op.method in WRITES and (role in INSIDERS or key in OPEN_WRITES):
                    row[role] = "-"
                    continue
                status, text = await _probe(c, w, op, role)
                if status is None:
                    row[role] = "skip"
                    continue
                row[role] = str(status)
                if role not in OUTSIDERS:
                    continue
                if status not in (401, 403, 404) and status >= 400:
                    notes.append(f"{op} as {role}: {status} {text[-300:]}")
                assert status < 500, f"{op} as {role}: {status} {text}"
                if op.method in WRITES and status < 400:
                    breaches.append(f"WRITE {op} as {role}: {status} {text[:200]}")
                elif op.method == "get" and status < 400:
                    if not _public_read(op, role):
                        breaches.append(f"READ {op} as {role}: {status}")
                    for what, secret in secrets:
                        if secret in text:
                            breaches.append(f"LEAK {op} as {role}: {what}")
            matrix[op] = row
        elapsed = time.monotonic() - started

    width = max(len(str(op)) for op in matrix)
    print(f"\nOWASP API1/API5 matrix ({len(matrix)} operations, {elapsed:.1f} s)")
    print(" " * width + " | " + " ".join(f"{r[:10]:>10}" for r in roles))
    for op, row in matrix.items():
        print(f"{op!s:{width}} | " + " ".join(f"{row[r]:>10}" for r in roles))
    # An outsider refused for another reason (validation, state) proves nothing about
    # authorization: the bodies above are valid, so only who they are may refuse them.
    breaches += [f"NOT AN AUTHORIZATION REFUSAL {n}" for n in notes]
    assert not breaches, "\n".join(breaches)

    # The matrix is not vacuous: the insiders read what the outsiders could not.
    insider_reads = {
        ("get", "/api/v1/orders/{order_id}/proposals"): "partner_p",
        ("get", "/api/v1/proposals/{proposal_id}"): "resident_x",
        ("get", "/api/v1/webhooks/{endpoint_id}"): "partner_p",
        ("get", "/api/v1/accreditation/applications/{application_id}"): "manager_a",
        ("get", "/api/v1/certificates/{number}/monitoring-reports/{report_id}"): "manager_a",
        ("get", "/api/v1/events/{event_id}/registrations"): "operator",
        ("get", "/api/v1/partners/{partner_id}"): "partner_p",
    }
    for (method, path), role in insider_reads.items():
        [op] = [o for o in matrix if (o.method, o.path) == (method, path)]
        assert matrix[op][role] == "200", (str(op), role, matrix[op])
    await _world_is_unchanged(platform, w)


async def _world_is_unchanged(platform: Platform, w: World) -> None:
    """No outsider's write took effect: every A-side object reads as it was built."""
    operator = w.headers["operator"]
    async with platform.client() as c:
        park = await _ok(await c.get(f"/api/v1/parks/{w.ids['park_id']}"))
        assert park["description"] != "pwned"
        resident = await _ok(await c.get(f"/api/v1/residents/{w.ids['resident_id']}"))
        assert resident["status"] == "active" and resident["description"] != "pwned"
        for key, status in (("order:draft", "draft"), ("order:confidential", "published")):
            order = await _ok(await c.get(f"/api/v1/orders/{w.ids[key]}", headers=operator))
            assert (order["status"], order["title"] != "pwned") == (status, True), order
        proposal = await _ok(
            await c.get(f"/api/v1/proposals/{w.ids['proposal_id']}", headers=operator)
        )
        assert proposal["status"] == "submitted"
        hook = await _ok(
            await c.get(f"/api/v1/webhooks/{w.ids['endpoint_id']}", headers=w.headers["partner_p"])
        )
        assert hook["enabled"] is True
        event = await _ok(await c.get(f"/api/v1/events/{w.ids['event_id']}"))
        assert (event["status"], event["title"] != "pwned") == ("published", True)
        registration = await _ok(
            await c.get(
                f"/api/v1/events/{w.ids['event_id']}/registrations/{w.ids['registration_id']}",
                headers=operator,
            )
        )
        assert registration["status"] == "confirmed"
        cert = await _ok(await c.get(f"/api/v1/certificates/{w.ids['number']}"))
        assert cert["status"] == "active" and cert["valid_until"] != "2099-12-31"
        application = await _ok(
            await c.get(
                f"/api/v1/accreditation/applications/{w.ids['application_id']}",
                headers=w.headers["manager_a"],
            )
        )
        assert application["status"] == "draft" and application["summary"] != "pwned"
        user = await _ok(await c.get(f"/api/v1/users/{w.ids['user_id']}", headers=operator))
        assert user["role"] == "park_manager"


# -- API5: the functions of a role, from the role table -------------------------------

# (method, path, body, roles allowed): DESIGN.md's table of who does what.
FUNCTIONS: list[tuple[str, str, dict[str, Any], set[str]]] = [
    ("post", "/api/v1/users", {"email": "x@y.example", "password": "p" * 12}, {"operator"}),
    ("get", "/api/v1/users", {}, {"operator"}),
    ("post", "/api/v1/api-clients", {"name": "x", "role": "operator"}, {"operator"}),
    ("get", "/api/v1/api-clients", {}, {"operator"}),
    ("post", "/api/v1/parks", {"name": "x"}, {"operator"}),
    ("post", "/api/v1/clusters", {"name": "x"}, {"operator"}),
    ("post", "/api/v1/agreements", {"title": "x"}, {"operator"}),
    ("post", "/api/v1/partners", {"name": "x", "country": "DE"}, {"operator"}),
    ("get", "/api/v1/partners", {}, {"operator"}),
    ("post", "/api/v1/orders", {"title": "x"}, {"partner"}),
    ("post", "/api/v1/webhooks", {"url": "https://hooks.example/"}, {"partner"}),
    ("get", "/api/v1/webhooks", {}, {"partner", "operator"}),
    ("get", "/api/v1/webhooks/events", {}, {"partner", "operator"}),
    ("get", "/api/v1/certificates/alerts", {}, {"operator", "park_manager"}),
    ("post", "/api/v1/accreditation/catalogues", {"title": "x"}, {"operator"}),
    ("post", "/api/v1/accreditation/applications", {"summary": "x"}, {"park_manager"}),
    ("post", "/api/v1/events", {"title": "x"}, {"operator", "park_manager"}),
]
ROLE_OF = {
    "anonymous": None,
    "manager_b": "park_manager",
    "resident_y": "resident",
    "partner_q": "partner",
    "stranger_expert": "expert",
    "operator": "operator",
}


async def test_functions_answer_only_their_roles(platform, world):
    lines, breaches = [], []
    async with platform.client() as c:
        for method, path, body, allowed in FUNCTIONS:
            row = []
            for who, role in ROLE_OF.items():
                if role in allowed:
                    continue  # its own function: tried by the feature tests
                kwargs: dict[str, Any] = {"headers": world.headers[who]}
                if method != "get":
                    kwargs["json"] = body
                r = await c.request(method.upper(), path, **kwargs)
                row.append(f"{who}={r.status_code}")
                expected = {401} if role is None else {403}
                if r.status_code not in expected:
                    breaches.append(f"{method.upper()} {path} as {who}: {r.status_code} {r.text}")
            lines.append(f"{method.upper():5} {path:42} " + " ".join(row))
    print("\nOWASP API5 function-level matrix\n" + "\n".join(lines))
    assert not breaches, "\n".join(breaches)


# -- API3: mass assignment ------------------------------------------------------------


async def test_role_and_binding_fields_in_bodies_are_refused(platform, world):
    w = world
    h = w.headers
    cases: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "partner_p",
            "post",
            "/api/v1/orders",
            {
                "title": "Mass assignment",
                "description": "x",
                "technology_tags": ["x"],
                "deadline": in_days(30),
                "partner_id": w.ids["partner_q"],
                "status": "published",
            },
        ),
        ("partner_p", "patch", f"/api/v1/orders/{w.ids['order:draft']}", {"status": "published"}),
        (
            "partner_p",
            "patch",
            f"/api/v1/orders/{w.ids['order:draft']}",
            {"partner_id": w.ids["partner_q"]},
        ),
        (
            "partner_p",
            "patch",
            f"/api/v1/orders/{w.ids['order:draft']}",
            {"is_confidential": True, "requester": {"partner_id": w.ids["partner_q"]}},
        ),
        (
            "resident_x",
            "patch",
            f"/api/v1/residents/{w.ids['resident_id']}",
            {"park_id": str(uuid.uuid4())},
        ),
        ("resident_x", "patch", f"/api/v1/residents/{w.ids['resident_id']}", {"status": "left"}),
        ("manager_a", "patch", f"/api/v1/parks/{w.ids['park_id']}", {"role": "operator"}),
        (
            "manager_a",
            "post",
            f"/api/v1/parks/{w.ids['park_id']}/residents",
            {"name": "Elsewhere", "technologies": ["x"], "park_id": str(uuid.uuid4())},
        ),
        (
            "resident_x",
            "post",
            f"/api/v1/orders/{w.ids['order:open']}/proposals",
            {"summary": "x", "status": "accepted", "resident_id": str(uuid.uuid4())},
        ),
        (
            "partner_p",
            "post",
            "/api/v1/webhooks",
            {"url": "https://hooks.example/", "partner_id": w.ids["partner_q"]},
        ),
        (
            "anonymous",
            "post",
            f"/api/v1/events/{w.ids['event_id']}/registrations",
            {"full_name": "x", "email": "x@visitor.example", "status": "attended"},
        ),
        (
            "manager_a",
            "post",
            "/api/v1/accreditation/applications",
            {"summary": "x", "status": "decided", "park_id": str(uuid.uuid4())},
        ),
        (
            "operator",
            "post",
            "/api/v1/users",
            {
                "email": f"{unique('mass')}@platform.test",
                "password": "p" * 16,
                "role": "partner",
                "partner_id": w.ids["partner_id"],
                "is_operator": True,
            },
        ),
    ]
    lines, breaches = [], []
    async with platform.client() as c:
        for who, method, path, body in cases:
            r = await c.request(method.upper(), path, headers=h[who], json=body)
            extra = sorted(body)
            lines.append(f"{who:10} {method.upper():5} {path:70} {extra} -> {r.status_code}")
            if r.status_code != 422:
                breaches.append(f"{who} {method} {path} {extra}: {r.status_code} {r.text}")
                continue
            named = {e["field"].split(".")[0] for e in r.json().get("errors", [])}
            if not named & set(body):
                breaches.append(f"{who} {method} {path}: 422 names {named}, not the extra field")
    print("\nOWASP API3 mass assignment\n" + "\n".join(lines))
    assert not breaches, "\n".join(breaches)


# -- API2: forged and expired tokens ----------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    return header, jwt.decode(token, options={"verify_signature": False})


async def test_forged_and_expired_tokens_are_refused_everywhere(platform, world):
    real = world.headers["operator"]["Authorization"].removeprefix("Bearer ")
    header, claims = _claims(real)
    pem = (platform.data_dir / "keys" / "jwt-es256.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    other_key = ec.generate_private_key(ec.SECP256R1())
    async with platform.client() as c:
        jwks = (await c.get("/.well-known/jwks.json")).json()
    public_pem = (
        jwt.PyJWK.from_dict(jwks["keys"][0])
        .key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    kid = {"kid": header["kid"]}
    now = int(time.time())

    def signed(payload: dict[str, Any], signer: Any = key) -> str:
        return jwt.encode(payload, signer, algorithm="ES256", headers=kid)

    def unsigned(head: dict[str, Any], payload: dict[str, Any]) -> str:
        return f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(payload).encode())}"

    hs256 = unsigned({"alg": "HS256", "typ": "JWT", **kid}, claims)
    real_head, _, real_signature = real.split(".")
    forged = {
        "another key, same kid": signed(claims, other_key),
        "alg none": unsigned({"alg": "none", **kid}, claims) + ".",
        "HS256 keyed with the public key": hs256
        + "."
        + _b64(hmac.new(public_pem.encode(), hs256.encode(), "sha256").digest()),
        "claims changed, signature kept": f"{real_head}."
        f"{_b64(json.dumps({**claims, 'role': 'operator', 'sub': 'x'}).encode())}."
        f"{real_signature}",
        "wrong audience": signed({**claims, "aud": "someone-else"}),
        "wrong issuer": signed({**claims, "iss": "https://evil.example"}),
        "expired": signed({**claims, "iat": now - 7200, "exp": now - 600}),
        "no expiry": signed({k: v for k, v in claims.items() if k != "exp"}),
    }
    # One protected read per part: the gateway's and each service's own verification.
    targets = [
        "/api/v1/users",
        "/api/v1/partners",
        f"/api/v1/residents/{world.ids['resident_id']}/leave",
        "/api/v1/accreditation/applications",
        f"/api/v1/events/{world.ids['event_id']}/registrations",
    ]
    lines, breaches = [], []
    async with platform.client() as c:

        async def call(target: str, token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            if target.endswith("/leave"):
                return (await c.post(target, headers=headers, json={})).status_code
            return (await c.get(target, headers=headers)).status_code

        # The control: the same claims re-signed with the gateway's key pass.
        control = signed(claims)
        for target in targets:
            if not target.endswith("/leave"):
                assert await call(target, control) == 200, target
        for what, token in forged.items():
            statuses = [await call(t, token) for t in targets]
            lines.append(f"{what:34} " + " ".join(map(str, statuses)))
            if any(s != 401 for s in statuses):
                breaches.append(f"{what}: {statuses}")
    print("\nOWASP API2 forged tokens (" + ", ".join(targets) + ")\n" + "\n".join(lines))
    assert not breaches, "\n".join(breaches)


# -- API7: SSRF on webhook targets ------------------------------------------------------

REFUSED_TARGETS = [
    "http://127.0.0.1/hook",
    "http://127.9.9.9:8080/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[fe80::1]/hook",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://[fd00::1]/hook",  # unique local
    "http://198.18.0.1/hook",  # benchmarking
    "http://metadata.internal/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
]


class _Receiver:
    """A real HTTP server on loopback: what an SSRF would reach."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def test_webhooks_never_reach_non_public_addresses(platform, world):
    partner = world.headers["partner_p"]
    lines, breaches = [], []
    receiver = _Receiver()
    try:
        async with platform.client() as c:
            for url in REFUSED_TARGETS:
                r = await c.post("/api/v1/webhooks", headers=partner, json={"url": url})
                lines.append(f"register {url:45} -> {r.status_code}")
                if r.status_code != 422:
                    breaches.append(f"{url}: {r.status_code} {r.text}")
            # Names (not addresses) that resolve to loopback pass the syntax check; the
            # delivery resolves them and refuses (DNS rebinding, decimal and short forms).
            names = [f"127.1:{receiver.port}", f"2130706433:{receiver.port}"]
            hostname = socket.gethostname()
            if hostname and await _resolves_locally(hostname):
                names.append(f"{hostname}:{receiver.port}")
            endpoints = []
            for name in names:
                r = await c.post(
                    "/api/v1/webhooks", headers=partner, json={"url": f"http://{name}/rebind"}
                )
                lines.append(f"register http://{name}/rebind -> {r.status_code}")
                if r.status_code == 201:
                    endpoints.append(r.json()["id"])
                elif r.status_code != 422:
                    breaches.append(f"{name}: {r.status_code} {r.text}")
            # Something to deliver: a new draft order of P, submitted.
            made = await c.post(
                "/api/v1/orders",
                headers=partner,
                json={
                    "title": "Trigger",
                    "description": "x",
                    "technology_tags": ["x"],
                    "deadline": in_days(30),
                },
            )
            assert made.status_code == 201, made.text
            submitted = await c.post(f"/api/v1/orders/{made.json()['id']}/submit", headers=partner)
            assert submitted.status_code == 200, submitted.text

            async def attempted() -> bool:
                for endpoint in endpoints:
                    log = (
                        await c.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=partner)
                    ).json()["items"]
                    if not any(d["attempts"] > 0 for d in log):
                        return False
                return True

            assert await wait_until(attempted, timeout=20)
            for endpoint in endpoints:
                log = (
                    await c.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=partner)
                ).json()["items"]
                lines.append(f"deliveries of {endpoint}: {[d['status'] for d in log]}")
                if any(d["status"] == "succeeded" for d in log):
                    breaches.append(f"delivered to a loopback name: {endpoint}")
                await c.delete(f"/api/v1/webhooks/{endpoint}", headers=partner)
        await asyncio.sleep(0.5)
        if receiver.hits:
            breaches.append(f"the loopback receiver was reached: {receiver.hits}")
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    print("\nOWASP API7 SSRF (redirects: never followed, see orders/tests/test_webhooks.py)")
    print("\n".join(lines))
    assert not breaches, "\n".join(breaches)


async def _resolves_locally(name: str) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, 80)
    except OSError:
        return False
    return bool(infos)
