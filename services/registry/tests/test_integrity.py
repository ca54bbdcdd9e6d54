"""Integrity of the registry: a park is removed only once nothing refers to it (a 409
names what still does), a company that left one park can be admitted to another while
its earlier residency stays, and a removal racing an admission never leaves a resident
in a removed park."""

from __future__ import annotations

import asyncio
import uuid

from .conftest import park_body


async def _park(api, op, **fields) -> dict:
    made = await api.post("/api/v1/parks", json=park_body(**fields), headers=op)
    assert made.status_code == 201, made.text
    return made.json()


async def _resident(api, op, park_id: str, number: str | None = None):
    body = {"name": f"Company {uuid.uuid4().hex[:6]}", "technologies": ["it"]}
    if number:
        body |= {"legal_country": "RU", "registration_number": number}
    return await api.post(f"/api/v1/parks/{park_id}/residents", json=body, headers=op)


async def test_a_park_still_referred_to_is_not_removed_and_the_409_names_what(api, token_issuer):
    op = token_issuer.headers("operator")
    park, partner = await _park(api, op), await _park(api, op)
    child = await _park(api, op, parent_id=park["id"])
    resident = (await _resident(api, op, park["id"])).json()
    cluster = await api.post(
        "/api/v1/clusters",
        headers=op,
        json={
            "name": f"Cluster {uuid.uuid4().hex[:6]}",
            "country": "RU",
            "region": "Tatarstan",
            "members": [{"name": "A member park", "park_id": park["id"]}],
        },
    )
    assert cluster.status_code == 201, cluster.text
    agreement = await api.post(
        "/api/v1/agreements",
        headers=op,
        json={
            "title": "Cooperation of two technopolises",
            "parties": [
                {"name": "One", "park_id": park["id"]},
                {"name": "Two", "park_id": partner["id"]},
            ],
        },
    )
    assert agreement.status_code == 201, agreement.text

    refused = await api.delete(f"/api/v1/parks/{park['id']}", headers=op)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["linked"] == {
        "parks": [child["id"]],
        "residents": [resident["id"]],
        "clusters": [cluster.json()["id"]],
        "agreements": [agreement.json()["id"]],
    }
    assert (await api.get(f"/api/v1/parks/{park['id']}")).status_code == 200

    # Each tie undone as its own change; then the park goes.
    assert (await api.delete(f"/api/v1/parks/{child['id']}", headers=op)).status_code == 204
    left = await api.post(f"/api/v1/residents/{resident['id']}/leave", json={}, headers=op)
    assert left.status_code == 200, left.text
    for path, body in (
        (f"/api/v1/clusters/{cluster.json()['id']}", {"members": []}),
        (
            f"/api/v1/agreements/{agreement.json()['id']}",
            # The park's place taken by its operating company, which is no park.
            {"parties": [{"name": "One's company"}, {"name": "Two", "park_id": partner["id"]}]},
        ),
    ):
        etag = (await api.get(path, headers=op)).headers["etag"]
        changed = await api.patch(path, json=body, headers={**op, "If-Match": etag})
        assert changed.status_code == 200, changed.text
    assert (await api.delete(f"/api/v1/parks/{park['id']}", headers=op)).status_code == 204
    # The departed resident keeps its history, in the removed park.
    gone = await api.get(f"/api/v1/residents/{resident['id']}")
    assert gone.status_code == 200 and gone.json()["status"] == "left"


async def test_a_company_that_left_is_admitted_elsewhere_and_its_history_stays(api, token_issuer):
    op = token_issuer.headers("operator")
    first, second = await _park(api, op), await _park(api, op)
    number = str(uuid.uuid4().int)[:13]
    earlier = await _resident(api, op, first["id"], number)
    assert earlier.status_code == 201, earlier.text
    # While it is active in one park, it cannot be admitted to another.
    twice = await _resident(api, op, second["id"], number)
    assert twice.status_code == 409 and twice.json()["resident_id"] == earlier.json()["id"]

    left = await api.post(f"/api/v1/residents/{earlier.json()['id']}/leave", json={}, headers=op)
    assert left.status_code == 200
    moved = await _resident(api, op, second["id"], number)
    assert moved.status_code == 201, moved.text
    assert moved.json()["legal_id"] == earlier.json()["legal_id"] == f"RU:{number}"
    history = await api.get(f"/api/v1/residents/{earlier.json()['id']}")
    assert (history.json()["status"], history.json()["park_id"]) == ("left", first["id"])
    # And it is active once: a third admission anywhere is a 409 again.
    assert (await _resident(api, op, first["id"], number)).status_code == 409


async def test_a_removal_racing_admissions_never_strands_a_resident(api, token_issuer):
    """Removal and admissions of the same park, started together, many times: either the
    removal is refused (a resident got in first) or the admission is a 404 (the park was
    gone first); never a resident admitted to a removed park, never a 500."""
    op = token_issuer.headers("operator")
    outcomes: dict[tuple, int] = {}
    for _ in range(12):
        park = await _park(api, op)
        answers = await asyncio.gather(
            api.delete(f"/api/v1/parks/{park['id']}", headers=op),
            *[_resident(api, op, park["id"]) for _ in range(3)],
        )
        removal, admissions = answers[0].status_code, [a.status_code for a in answers[1:]]
        key = (removal, tuple(sorted(admissions)))
        outcomes[key] = outcomes.get(key, 0) + 1
        assert removal in (204, 409), answers[0].text
        assert set(admissions) <= {201, 404}, [a.text for a in answers[1:]]
        if removal == 204:
            listed = await api.get("/api/v1/residents", params={"park_id": park["id"]})
            assert 201 not in admissions and listed.status_code == 404, outcomes
        else:
            assert 201 in admissions
    print(f"\nremoval vs 3 admissions, 12 rounds: {outcomes}")
