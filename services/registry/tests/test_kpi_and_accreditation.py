"""KPI reports drive /api/v1/stats; certificate events drive each park's accreditation;
clusters and cooperation agreements."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from innopark_shared.contracts.accreditation import (
    CERTIFICATES_TOPIC,
    CertificateAmendedV1,
    CertificateGrantedV1,
    CertificateReinstatedV1,
    CertificateSuspendedV1,
)
from innopark_shared.kafka import Envelope, make_producer
from innopark_shared.settings import ServiceSettings
from innopark_shared.testing import wait_until

from .conftest import park_body, unique


def _report(year, quarter=None, **figures):
    body = {
        "year": year,
        "quarter": quarter,
        "residents": 0,
        "jobs": 0,
        "resident_revenue": 0,
        "taxes_paid": 0,
        "investments_attracted": 0,
        "area_occupied": 0,
    }
    body.update(figures)
    return body


async def test_kpi_reports_change_the_stats(api, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Stats")
    a = (await api.post("/api/v1/parks", json=park_body(region=region), headers=op)).json()
    b = (
        await api.post(
            "/api/v1/parks", json=park_body(region=region, kind="technopolis"), headers=op
        )
    ).json()

    async def totals(**params):
        response = await api.get("/api/v1/stats", params={"region": region, **params})
        assert response.status_code == 200, response.text
        return response.json()["totals"]

    before = await totals(year=2015)
    assert before["parks_reporting"] == 0 and before["jobs"] == 0

    manager_a = token_issuer.headers("park_manager", park_id=a["id"])
    filed = await api.post(
        f"/api/v1/parks/{a['id']}/kpi-reports",
        headers=manager_a,
        json=_report(
            2015,
            3,
            residents=500,
            jobs=12000,
            area_occupied=300000,
            resident_revenue="30100000000.00",
        ),
    )
    assert filed.status_code == 201, filed.text
    assert (
        await api.post(
            f"/api/v1/parks/{b['id']}/kpi-reports", headers=manager_a, json=_report(2015, 3)
        )
    ).status_code == 403
    assert (
        await api.post(f"/api/v1/parks/{b['id']}/kpi-reports", json=_report(2015, 3))
    ).status_code == 401
    assert (
        await api.post(
            f"/api/v1/parks/{b['id']}/kpi-reports",
            headers=op,
            json=_report(
                2015,
                3,
                jobs=7500,
                residents=340,
                area_occupied=175000,
                resident_revenue="1000000.50",
            ),
        )
    ).status_code == 201

    after = await totals(year=2015)
    assert after["parks_reporting"] == 2
    assert (after["residents"], after["jobs"]) == (840, 19500)
    assert float(after["area_occupied"]) == 475000
    assert float(after["resident_revenue"]) == 30101000000.50

    # Stocks come from the latest report, flows add up over the period.
    await api.post(
        f"/api/v1/parks/{a['id']}/kpi-reports",
        headers=op,
        json=_report(
            2015, 4, residents=510, jobs=12100, area_occupied=300000, resident_revenue="100.00"
        ),
    )
    year = await totals(year=2015)
    assert (year["residents"], year["jobs"]) == (850, 19600)
    assert float(year["resident_revenue"]) == 30101000100.50
    assert (await totals(year=2015, quarter=3))["jobs"] == 19500

    # Refiling a period replaces it (200) rather than adding to it.
    refiled = await api.post(
        f"/api/v1/parks/{b['id']}/kpi-reports",
        headers=op,
        json=_report(
            2015, 3, jobs=7400, residents=340, area_occupied=175000, resident_revenue="1000000.50"
        ),
    )
    assert refiled.status_code == 200
    assert (await totals(year=2015))["jobs"] == 19500

    by_kind = (
        await api.get("/api/v1/stats", params={"region": region, "year": 2015, "group_by": "kind"})
    ).json()["groups"]
    assert {g["key"]: g["jobs"] for g in by_kind} == {"technopark": 12100, "technopolis": 7400}
    assert (await totals(year=2016))["parks_reporting"] == 0

    bad = await api.post(
        f"/api/v1/parks/{a['id']}/kpi-reports", headers=op, json=_report(2015, 5, jobs=-1)
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"quarter", "jobs"}
    reports = await api.get(f"/api/v1/parks/{a['id']}/kpi-reports", headers=manager_a)
    assert [(r["year"], r["quarter"]) for r in reports.json()["items"]] == [(2015, 4), (2015, 3)]


async def _send_certificate_event(registry, event) -> None:
    settings = ServiceSettings(
        database_url=registry.database_url,
        service_name="test-accreditation",
        kafka_bootstrap_servers=registry.env["KAFKA_BOOTSTRAP_SERVERS"],
    )
    producer = make_producer(settings)
    await producer.start()
    try:
        envelope = Envelope(
            id=str(uuid.uuid4()),
            type=event.event_type,
            source="/innopark/accreditation",
            time=datetime.now(UTC),
        )
        await producer.send_and_wait(
            CERTIFICATES_TOPIC,
            key=event.key.encode(),
            value=event.model_dump_json().encode(),
            headers=envelope.headers(),
        )
    finally:
        await producer.stop()


async def test_certificate_events_show_the_parks_accreditation(api, registry, token_issuer):
    op = token_issuer.headers("operator")
    region = unique("Accredited")
    park = (await api.post("/api/v1/parks", json=park_body(region=region), headers=op)).json()
    other = (await api.post("/api/v1/parks", json=park_body(region=region), headers=op)).json()
    state = dict(
        certificate_id=uuid.uuid4(),
        number=unique("ATP"),
        park_id=park["id"],
        level="A",
        issued_on=date.today(),
        valid_until=date.today() + timedelta(days=1095),
    )

    await _send_certificate_event(
        registry, CertificateGrantedV1(**state, status="active", occurred_at=datetime.now(UTC))
    )

    async def status_is(expected: str) -> bool:
        body = (await api.get(f"/api/v1/parks/{park['id']}")).json()
        return body["accreditation"]["status"] == expected

    assert await wait_until(lambda: status_is("active"), timeout=15), registry.log()[-3000:]
    body = (await api.get(f"/api/v1/parks/{park['id']}")).json()
    assert body["accreditation"]["certificate_number"] == state["number"]
    assert body["accreditation"]["level"] == "A"

    accredited = await api.get("/api/v1/parks", params={"region": region, "accredited": "true"})
    assert [p["id"] for p in accredited.json()["items"]] == [park["id"]]
    not_accredited = await api.get(
        "/api/v1/parks", params={"region": region, "accredited": "false"}
    )
    assert [p["id"] for p in not_accredited.json()["items"]] == [other["id"]]

    await _send_certificate_event(
        registry,
        CertificateSuspendedV1(
            **state,
            status="suspended",
            reason="monitoring report missing",
            occurred_at=datetime.now(UTC),
        ),
    )
    assert await wait_until(lambda: status_is("suspended"), timeout=15)
    accredited = await api.get("/api/v1/parks", params={"region": region, "accredited": "true"})
    assert accredited.json()["items"] == []

    await _send_certificate_event(
        registry, CertificateReinstatedV1(**state, status="active", occurred_at=datetime.now(UTC))
    )
    assert await wait_until(lambda: status_is("active"), timeout=15)
    later = date.today() + timedelta(days=2000)
    await _send_certificate_event(
        registry,
        CertificateAmendedV1(
            **{**state, "valid_until": later}, status="active", occurred_at=datetime.now(UTC)
        ),
    )

    async def valid_until_is_later() -> bool:
        body = (await api.get(f"/api/v1/parks/{park['id']}")).json()
        return body["accreditation"]["valid_until"] == later.isoformat()

    assert await wait_until(valid_until_is_later, timeout=15)


async def test_clusters_and_agreements(api, token_issuer):
    op = token_issuer.headers("operator")
    himgrad = (await api.post("/api/v1/parks", json=park_body(name="Himgrad"), headers=op)).json()
    gousev = (await api.post("/api/v1/parks", json=park_body(name="Gousev"), headers=op)).json()
    manager = token_issuer.headers("park_manager", park_id=himgrad["id"])

    cluster = await api.post(
        "/api/v1/clusters",
        headers=op,
        json={
            "name": "Кластер радиоэлектроники",
            "country": "RU",
            "region": "Kaliningrad",
            "coordinator_park_id": gousev["id"],
            "members": [{"name": "Gousev", "park_id": gousev["id"]}, {"name": "Design bureau"}],
        },
    )
    assert cluster.status_code == 201, cluster.text
    cluster_id = cluster.json()["id"]
    assert (await api.get(f"/api/v1/clusters/{cluster_id}")).status_code == 200
    listed = await api.get("/api/v1/clusters", params={"park_id": gousev["id"]})
    assert cluster_id in [c["id"] for c in listed.json()["items"]]
    assert (
        await api.patch(
            f"/api/v1/clusters/{cluster_id}", headers=manager, json={"description": "x"}
        )
    ).status_code == 403
    assert (
        await api.post("/api/v1/clusters", json={"name": "x", "country": "RU", "region": "r"})
    ).status_code == 401

    agreement = await api.post(
        "/api/v1/agreements",
        headers=op,
        json={
            "title": "Cooperation of Himgrad and Gousev",
            "signed_on": "2015-11-28",
            "signed_at": "St Petersburg International Innovation Forum",
            "parties": [
                {"name": "Himgrad", "park_id": himgrad["id"]},
                {"name": "Gousev", "park_id": gousev["id"]},
            ],
        },
    )
    assert agreement.status_code == 201, agreement.text
    agreement_id = agreement.json()["id"]
    of_park = await api.get(
        "/api/v1/agreements", params={"park_id": himgrad["id"]}, headers=manager
    )
    assert [a["id"] for a in of_park.json()["items"]] == [agreement_id]
    etag = agreement.headers["etag"]
    changed = await api.patch(
        f"/api/v1/agreements/{agreement_id}",
        json={"scope": "joint R&D"},
        headers={**op, "If-Match": etag},
    )
    assert changed.status_code == 200 and changed.json()["scope"] == "joint R&D"
    assert (
        await api.patch(
            f"/api/v1/agreements/{agreement_id}",
            json={"scope": "y"},
            headers={**op, "If-Match": etag},
        )
    ).status_code == 412
    one_party = await api.post(
        "/api/v1/agreements", headers=op, json={"title": "x", "parties": [{"name": "only"}]}
    )
    assert one_party.status_code == 422


async def test_cluster_agreement_and_kpi_changes_are_published(api, registry, token_issuer):
    from innopark_shared.contracts.registry import (
        AGREEMENTS_TOPIC,
        CLUSTERS_TOPIC,
        KPI_REPORTS_TOPIC,
    )

    from .conftest import events_for

    op = token_issuer.headers("operator")
    park = (await api.post("/api/v1/parks", json=park_body(), headers=op)).json()
    cluster = (
        await api.post(
            "/api/v1/clusters",
            headers=op,
            json={
                "name": "Pharma cluster",
                "country": "RU",
                "region": "St Petersburg",
                "coordinator_park_id": park["id"],
                "members": [{"name": "Ingria"}],
            },
        )
    ).json()
    await api.patch(
        f"/api/v1/clusters/{cluster['id']}",
        headers=op,
        json={"members": [{"name": "Ingria"}, {"name": "Polytech"}]},
    )
    agreement = (
        await api.post(
            "/api/v1/agreements",
            headers=op,
            json={
                "title": "MoU",
                "parties": [
                    {"name": "A", "park_id": park["id"]},
                    {"name": "Foreign partner", "country": "FI"},
                ],
            },
        )
    ).json()
    await api.post(
        f"/api/v1/parks/{park['id']}/kpi-reports",
        headers=op,
        json=_report(2014, jobs=100, residents=10),
    )

    clusters = await events_for(registry, CLUSTERS_TOPIC, cluster["id"], 2)
    assert [t.split(".")[-2] for t, _ in clusters] == ["created", "updated"]
    assert [m["name"] for m in clusters[1][1]["members"]] == ["Ingria", "Polytech"]
    agreements = await events_for(registry, AGREEMENTS_TOPIC, agreement["id"], 1)
    assert agreements[0][1]["parties"][1]["country"] == "FI"
    reports = await events_for(registry, KPI_REPORTS_TOPIC, park["id"], 1)
    assert reports[0][0] == "org.innopark.registry.kpi_report.filed.v1"
    assert (reports[0][1]["year"], reports[0][1]["jobs"]) == (2014, 100)
