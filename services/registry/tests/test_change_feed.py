"""The change feed under concurrent writers: a mirror following it while 16 writers
create and change parks, residents, clusters, agreements and KPI reports, all at once,
ends equal to the registry, and never sees the same version of anything twice.

Writers no longer queue behind one lock for the feed's sake (they did: a transaction
advisory lock per park write); the feed instead shows a change only once every older
transaction has ended. This test is what proves that is gap-free: the follower may see
the last writes a moment late, never not at all."""

from __future__ import annotations

import asyncio
import random
import uuid

from .conftest import park_body

WRITERS = 16
ROUNDS = 6  # per writer: a park, a resident, a cluster, an agreement, a KPI report, edits


async def _writer(api, op, n: int, written: dict, rng: random.Random) -> None:
    def keep(kind: str, body: dict) -> None:
        written[(kind, body["id"])] = body["version"]

    for r in range(ROUNDS):
        park = await api.post("/api/v1/parks", json=park_body(), headers=op)
        assert park.status_code == 201, park.text
        park = park.json()
        keep("park", park)
        resident = await api.post(
            f"/api/v1/parks/{park['id']}/residents",
            json={"name": f"Writer {n} company {r}", "technologies": ["it"]},
            headers=op,
        )
        assert resident.status_code == 201, resident.text
        keep("resident", resident.json())
        cluster = await api.post(
            "/api/v1/clusters",
            headers=op,
            json={
                "name": f"Cluster {n}.{r} {uuid.uuid4().hex[:4]}",
                "country": "RU",
                "region": "Tatarstan",
                "coordinator_park_id": park["id"],
            },
        )
        assert cluster.status_code == 201, cluster.text
        keep("cluster", cluster.json())
        agreement = await api.post(
            "/api/v1/agreements",
            headers=op,
            json={
                "title": f"Agreement {n}.{r}",
                "parties": [{"name": "Park", "park_id": park["id"]}, {"name": "Partner"}],
            },
        )
        assert agreement.status_code == 201, agreement.text
        keep("agreement", agreement.json())
        report = await api.post(
            f"/api/v1/parks/{park['id']}/kpi-reports",
            headers=op,
            json={
                "year": 2025,
                "residents": rng.randint(1, 90),
                "jobs": rng.randint(1, 900),
                "resident_revenue": "1000.50",
                "taxes_paid": "10.25",
                "investments_attracted": "5",
                "area_occupied": "120.5",
            },
        )
        assert report.status_code == 201, report.text
        keep("kpi_report", report.json())
        # Changes after creation: the feed must carry each thing's latest state.
        for path, kind, body in (
            (f"/api/v1/parks/{park['id']}", "park", {"city": f"City {rng.random():.6f}"}),
            (
                f"/api/v1/residents/{resident.json()['id']}",
                "resident",
                {"employees": rng.randint(1, 500)},
            ),
        ):
            etag = (await api.get(path, headers=op)).headers["etag"]
            changed = await api.patch(path, json=body, headers={**op, "If-Match": etag})
            assert changed.status_code == 200, changed.text
            keep(kind, changed.json())


# The feed shows a change once every transaction older than it has ended, anywhere in the
# database cluster: on a loaded machine another service's transaction can hold the last
# writes back for a moment. A follower keeps reading until it has caught up, up to this.
CATCH_UP_SECONDS = 60


def _caught_up(written: dict, mirror: dict) -> bool:
    return all(mirror.get(key, {}).get("version") == version for key, version in written.items())


async def _follow(
    api, op, cursor: str, mirror: dict, seen: list, stop: asyncio.Event, written: dict
) -> str:
    """Poll the feed until told to stop, then until the mirror has caught up with what was
    written and the feed is empty twice in a row (or CATCH_UP_SECONDS have passed)."""
    empty = 0
    deadline: float | None = None
    loop = asyncio.get_running_loop()
    while True:
        if stop.is_set():
            deadline = deadline or loop.time() + CATCH_UP_SECONDS
            if empty >= 2 and (_caught_up(written, mirror) or loop.time() > deadline):
                break
        page = await api.get(
            "/api/v1/registry/changes", params={"cursor": cursor, "limit": 50}, headers=op
        )
        assert page.status_code == 200, page.text
        body = page.json()
        for item in body["items"]:
            state = item[item["kind"]]
            seen.append((item["kind"], item["id"], state["version"]))
            mirror[(item["kind"], item["id"])] = state
        cursor = body["next_cursor"]
        empty = 0 if body["items"] else empty + 1
        await asyncio.sleep(0 if body["items"] else 0.05)
    return cursor


async def test_a_mirror_following_the_feed_under_16_writers_ends_equal(api, token_issuer):
    op = token_issuer.headers("operator")
    cursor = None
    while True:  # to the end of what is there already
        body = (
            await api.get(
                "/api/v1/registry/changes", params={"cursor": cursor, "limit": 200}, headers=op
            )
        ).json()
        cursor = body["next_cursor"]
        if not body["items"]:
            break

    written: dict = {}
    mirror: dict = {}
    seen: list = []
    stop = asyncio.Event()
    follower = asyncio.create_task(_follow(api, op, cursor, mirror, seen, stop, written))
    await asyncio.gather(*[_writer(api, op, n, written, random.Random(n)) for n in range(WRITERS)])
    stop.set()
    await follower

    ours = {key: state for key, state in mirror.items() if key in written}
    missed = [key for key in written if key not in ours]
    behind = [
        key for key, version in written.items() if key in ours and ours[key]["version"] != version
    ]
    twice = [entry for entry in set(seen) if seen.count(entry) > 1]
    print(
        f"\n{WRITERS} writers, {len(written)} things written, {len(seen)} feed entries read: "
        f"missed {len(missed)}, behind {len(behind)}, same version twice {len(twice)}"
    )
    assert not missed and not behind and not twice, (missed[:5], behind[:5], twice[:5])
    # The mirror's last state of each thing is the registry's own.
    for kind, path in (("park", "/api/v1/parks/"), ("resident", "/api/v1/residents/")):
        for (k, thing_id), state in list(ours.items())[:400]:
            if k == kind:
                assert (await api.get(path + thing_id, headers=op)).json() == state
