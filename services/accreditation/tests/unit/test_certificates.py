"""Certificates in process: issue and renewal, the status transitions with their history
and events, the validity correction, expiry, numbers, signatures and monitoring reports."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_accreditation.certificates import monitoring, queries, service
from innopark_accreditation.certificates.documents import (
    SIGNED_FIELDS,
    STATUS_SIGNED_FIELDS,
    certificate_content,
    status_content,
)
from innopark_accreditation.certificates.issuance import add_years
from innopark_accreditation.certificates.presenters import present_certificate
from innopark_accreditation.certificates.schemas import CertificateUpdate, MonitoringReportCreate
from innopark_accreditation.certificates.signing import load_or_create_signer
from innopark_accreditation.models import Certificate, StatusChange
from innopark_shared.auth import Principal, Role
from innopark_shared.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from innopark_shared.http import etag_of
from pydantic import ValidationError

OPERATOR = Principal(subject="operator-1", role=Role.OPERATOR)


async def actions(session, cert) -> list[tuple[str, str | None, str, str | None, str]]:
    rows = await session.scalars(
        sa.select(StatusChange)
        .where(StatusChange.certificate_id == cert.id)
        .order_by(StatusChange.id)
    )
    return [(r.action, r.from_status, r.to_status, r.reason, r.actor) for r in rows]


# -- issue ---------------------------------------------------------------------------


async def test_a_grant_issues_a_signed_active_certificate_and_announces_it(world, outbox):
    park = await world.park()
    cert = await world.certificate(park, level="gold")
    today = datetime.now(UTC).date()
    assert cert.status == "active" and cert.level == "gold" and cert.park_id == park
    assert cert.issued_on == today
    assert cert.valid_until == add_years(today, 3) - timedelta(days=1)
    assert cert.previous_number is None and cert.version == 1
    assert await actions(world.session, cert) == [
        ("grant", None, "active", "granted", "operator-1")
    ]
    [event] = await outbox.events("certificate")
    assert event.type == "org.innopark.accreditation.certificate.granted.v1"
    assert event.topic == "innopark.accreditation.certificates" and event.key == str(park)
    assert event.data["number"] == cert.number and event.data["status"] == "active"
    assert event.data["valid_until"] == cert.valid_until.isoformat()


async def test_certificate_numbers_are_unique_and_name_the_year(world):
    numbers = [(await world.certificate()).number for _ in range(3)]
    year = datetime.now(UTC).year
    assert all(re.fullmatch(rf"ATP-{year}-\d{{4,}}", n) for n in numbers), numbers
    assert len(set(numbers)) == 3
    seqs = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert seqs == sorted(seqs)  # one sequence: later grants, higher numbers


async def test_a_grant_for_a_park_with_a_certificate_renews_it(world, outbox):
    park = await world.park()
    first = await world.certificate(park, level="bronze")
    second = await world.certificate(park, level="gold")
    assert second.previous_number == first.number
    assert second.previous_certificate_id == first.id
    assert first.status == "expired" and first.status_reason == f"superseded by {second.number}"
    assert [a[:3] for a in await actions(world.session, first)] == [
        ("grant", None, "active"),
        ("supersede", "active", "expired"),
    ]
    assert [a[:3] for a in await actions(world.session, second)] == [("renew", None, "active")]
    # The superseded certificate is not announced: the renewal says it all.
    assert await outbox.types() == ["certificate.granted.v1", "certificate.renewed.v1"]
    renewed = (await outbox.events("renewed"))[0]
    assert renewed.data["previous_certificate_id"] == str(first.id)


# -- status transitions --------------------------------------------------------------


async def test_suspend_reinstate_revoke_record_history_and_events(world, outbox):
    cert = await world.certificate()
    number = cert.number
    cert = await service.suspend_certificate(
        session=world.session, principal=OPERATOR, number=number, reason="Report overdue"
    )
    assert (cert.status, cert.status_reason, cert.version) == ("suspended", "Report overdue", 2)
    with pytest.raises(InvalidTransition) as raised:
        await service.suspend_certificate(
            session=world.session, principal=OPERATOR, number=number, reason="again"
        )
    assert raised.value.extensions == {"current_status": "suspended", "allowed_from": ["active"]}
    cert = await service.reinstate_certificate(
        session=world.session, principal=OPERATOR, number=number, reason=None
    )
    assert (cert.status, cert.status_reason, cert.version) == ("active", None, 3)
    cert = await service.revoke_certificate(
        session=world.session, principal=OPERATOR, number=number, reason="False evidence"
    )
    assert cert.status == "revoked" and cert.version == 4
    for action in (service.reinstate_certificate, service.revoke_certificate):
        with pytest.raises(InvalidTransition):
            await action(session=world.session, principal=OPERATOR, number=number, reason="x")
    assert [a[:4] for a in await actions(world.session, cert)] == [
        ("grant", None, "active", "granted"),
        ("suspend", "active", "suspended", "Report overdue"),
        ("reinstate", "suspended", "active", None),
        ("revoke", "active", "revoked", "False evidence"),
    ]
    assert await outbox.types() == [
        "certificate.granted.v1",
        "certificate.suspended.v1",
        "certificate.reinstated.v1",
        "certificate.revoked.v1",
    ]
    revoked = (await outbox.events("revoked"))[0]
    assert revoked.data["reason"] == "False evidence" and revoked.data["status"] == "revoked"


async def test_a_suspended_certificate_past_its_validity_cannot_be_reinstated(world):
    cert = await world.certificate()
    await service.suspend_certificate(
        session=world.session, principal=OPERATOR, number=cert.number, reason="Audit"
    )
    cert.valid_until = datetime.now(UTC).date() - timedelta(days=1)
    await world.session.flush()
    with pytest.raises(InvalidTransition):
        await service.reinstate_certificate(
            session=world.session, principal=OPERATOR, number=cert.number, reason=None
        )


async def test_a_stale_etag_is_refused_before_any_change(world):
    cert = await world.certificate()
    stale = etag_of(cert.id, cert.version)
    await service.suspend_certificate(
        session=world.session, principal=OPERATOR, number=cert.number, reason="x", if_match=stale
    )
    with pytest.raises(PreconditionFailed):
        await service.reinstate_certificate(
            session=world.session,
            principal=OPERATOR,
            number=cert.number,
            reason=None,
            if_match=stale,
        )
    assert cert.status == "suspended"


async def test_unknown_numbers_are_not_found(world):
    with pytest.raises(NotFound):
        await queries.get_certificate(session=world.session, number="ATP-1999-9999")
    with pytest.raises(NotFound):
        await service.suspend_certificate(
            session=world.session, principal=OPERATOR, number="ATP-1999-9999", reason="x"
        )


# -- correction and expiry -----------------------------------------------------------


async def test_amending_the_validity_re_signs_and_announces(world, outbox, signer):
    cert = await world.certificate()
    old_signature = cert.signature
    new_date = cert.valid_until + timedelta(days=30)
    cert = await service.amend_certificate(
        session=world.session,
        principal=OPERATOR,
        number=cert.number,
        valid_until=new_date,
        signer=signer,
        if_match=etag_of(cert.id, cert.version),
    )
    assert cert.valid_until == new_date and cert.version == 2 and cert.status == "active"
    assert cert.signature != old_signature
    assert signer.verify(certificate_content(cert), cert.signature)
    # Restating the same date is still a correction: a new version, recorded, announced.
    cert = await service.amend_certificate(
        session=world.session,
        principal=OPERATOR,
        number=cert.number,
        valid_until=new_date,
        signer=signer,
    )
    assert cert.version == 3
    assert [a[:4] for a in await actions(world.session, cert)][1:] == [
        ("amend", "active", "active", f"valid_until set to {new_date.isoformat()}"),
        ("amend", "active", "active", f"valid_until set to {new_date.isoformat()}"),
    ]
    assert (await outbox.types())[1:] == ["certificate.amended.v1", "certificate.amended.v1"]
    await service.revoke_certificate(
        session=world.session, principal=OPERATOR, number=cert.number, reason="x"
    )
    with pytest.raises(InvalidTransition):
        await service.amend_certificate(
            session=world.session,
            principal=OPERATOR,
            number=cert.number,
            valid_until=new_date,
            signer=signer,
        )


def test_null_validity_in_a_patch_is_refused_naming_it():
    with pytest.raises(ValidationError) as raised:
        CertificateUpdate.model_validate({"valid_until": None})
    assert [e["loc"] for e in raised.value.errors()] == [("valid_until",)]


def _named_field(raised: pytest.ExceptionInfo[Unprocessable]) -> list[str]:
    return [e["field"] for e in raised.value.extensions["errors"]]


async def test_a_validity_ending_on_or_before_the_issue_date_is_refused(world, signer):
    cert = await world.certificate()
    for day in (cert.issued_on, cert.issued_on - timedelta(days=400)):
        with pytest.raises(Unprocessable) as raised:
            await service.amend_certificate(
                session=world.session,
                principal=OPERATOR,
                number=cert.number,
                valid_until=day,
                signer=signer,
            )
        assert _named_field(raised) == ["valid_until"]
    assert cert.version == 1 and cert.valid_until > cert.issued_on
    assert signer.verify(certificate_content(cert), cert.signature)


async def test_a_grant_ending_on_or_before_its_issue_date_is_refused(world):
    today = datetime.now(UTC).date()
    for day in (today, today - timedelta(days=1)):
        app = await world.under_review(await world.park())
        await world.top_scores(app)
        with pytest.raises(Unprocessable) as raised:
            await world.decide(app, outcome="granted", level="gold", valid_until=day.isoformat())
        assert _named_field(raised) == ["valid_until"]
    app = await world.under_review(await world.park())
    await world.top_scores(app)
    tomorrow = today + timedelta(days=1)
    app = await world.decide(app, outcome="granted", level="gold", valid_until=tomorrow.isoformat())
    cert = await world.session.get(Certificate, app.certificate_id)
    assert cert is not None and cert.valid_until == tomorrow


async def test_the_sweep_expires_what_is_past_its_validity(world, outbox, signer):
    due = await world.certificate()
    live = await world.certificate()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    # A validity may only end after the issue: issue this one a month ago.
    due.issued_on = yesterday - timedelta(days=30)
    await service.amend_certificate(
        session=world.session,
        principal=OPERATOR,
        number=due.number,
        valid_until=yesterday,
        signer=signer,
    )
    expired = await service.expire_due_certificates(
        session=world.session, today=datetime.now(UTC).date()
    )
    assert expired >= 1
    assert due.status == "expired" and live.status == "active"
    assert due.status_reason == f"validity ended on {yesterday.isoformat()}"
    assert (await actions(world.session, due))[-1][:3] == ("expire", "active", "expired")
    assert (await actions(world.session, due))[-1][4] == "system"
    [event] = await outbox.events("expired")
    assert event.data["number"] == due.number and event.key == str(due.park_id)
    assert (
        await service.expire_due_certificates(session=world.session, today=datetime.now(UTC).date())
        == 0
    )


# -- the signed document -------------------------------------------------------------


async def test_the_signature_verifies_over_the_issued_content(world, signer):
    cert = await world.certificate()
    content = certificate_content(cert)
    assert sorted(content) == SIGNED_FIELDS
    assert signer.verify(content, cert.signature)
    for field in content:
        assert not signer.verify({**content, field: "forged"}, cert.signature), field
    assert not signer.verify({**content, "status": "active"}, cert.signature)


async def test_the_document_covers_every_field_with_one_of_its_signatures(world, signer):
    cert = await world.certificate()
    checked_at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    document = present_certificate(cert, signer, checked_at=checked_at).model_dump(mode="json")
    covered = set(document["signature"]["signed_fields"]) | set(
        document["status_signature"]["signed_fields"]
    )
    assert set(document) - {"signature", "status_signature"} == covered
    assert document["checked_at"] == "2026-12-01T12:00:00Z"
    status = {f: document[f] for f in STATUS_SIGNED_FIELDS}
    assert status == status_content(cert, checked_at)
    assert signer.verify(status, document["status_signature"]["value"])
    assert not signer.verify({**status, "status": "revoked"}, document["status_signature"]["value"])
    issued = {f: document[f] for f in SIGNED_FIELDS}
    assert signer.verify(issued, document["signature"]["value"])
    assert document["signature"]["kid"] == signer.key_id


def test_the_signing_key_is_created_once_and_kept(tmp_path):
    path = tmp_path / "keys" / "certificates-ed25519.pem"
    first = load_or_create_signer(path)
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_or_create_signer(path).key_id == first.key_id


def test_an_unwritable_key_path_says_what_to_do(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(RuntimeError, match="CERTIFICATE_SIGNING_KEY_PATH"):
        load_or_create_signer(blocker / "key.pem")


def test_a_key_of_another_kind_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_or_create_signer(path)


# -- reading -------------------------------------------------------------------------


async def test_the_collection_pages_newest_first_and_filters(world):
    park = await world.park()
    certs = [await world.certificate(park) for _ in range(3)]  # the last two renew
    page = await queries.list_certificates(
        session=world.session, status=None, park_id=park, limit=2, cursor=None
    )
    assert [c.number for c in page.items] == [certs[2].number, certs[1].number]
    rest = await queries.list_certificates(
        session=world.session, status=None, park_id=park, limit=2, cursor=page.next_cursor
    )
    assert [c.number for c in rest.items] == [certs[0].number] and rest.next_cursor is None
    active = await queries.list_certificates(
        session=world.session, status="active", park_id=park, limit=10, cursor=None
    )
    assert [c.number for c in active.items] == [certs[2].number]


# -- monitoring reports --------------------------------------------------------------


async def test_monitoring_reports_only_for_years_of_the_validity_so_far(world):
    park = await world.park()
    cert = await world.certificate(park)
    manager = world.manager(park)
    this_year = datetime.now(UTC).year
    for year in (cert.issued_on.year - 1, this_year + 1, this_year + 5):
        with pytest.raises(Unprocessable) as raised:
            await monitoring.file_monitoring_report(
                session=world.session,
                principal=manager,
                number=cert.number,
                data=MonitoringReportCreate(year=year, summary="Ahead of time"),
            )
        assert _named_field(raised) == ["year"]
    filed = await monitoring.file_monitoring_report(
        session=world.session,
        principal=manager,
        number=cert.number,
        data=MonitoringReportCreate(year=this_year, summary="This year"),
    )
    assert filed.year == this_year


async def test_a_monitoring_report_a_year_while_active(world):
    park = await world.park()
    cert = await world.certificate(park)
    manager = world.manager(park)
    year = datetime.now(UTC).year
    report = MonitoringReportCreate(year=year, residents=60, summary="IT, robotics")
    filed = await monitoring.file_monitoring_report(
        session=world.session, principal=manager, number=cert.number, data=report
    )
    assert filed.certificate_id == cert.id and filed.submitted_by == manager.subject
    with pytest.raises(Conflict):
        await monitoring.file_monitoring_report(
            session=world.session, principal=manager, number=cert.number, data=report
        )
    with pytest.raises(NotFound):  # another park's manager
        await monitoring.file_monitoring_report(
            session=world.session,
            principal=world.manager(uuid.uuid4()),
            number=cert.number,
            data=report.model_copy(update={"year": year - 1}),
        )
    await service.suspend_certificate(
        session=world.session, principal=OPERATOR, number=cert.number, reason="x"
    )
    with pytest.raises(InvalidTransition):
        await monitoring.file_monitoring_report(
            session=world.session,
            principal=manager,
            number=cert.number,
            data=report.model_copy(update={"year": year - 1}),
        )
    listed = await monitoring.list_monitoring_reports(
        session=world.session, principal=OPERATOR, number=cert.number, limit=10, cursor=None
    )
    assert [r.year for r in listed.items] == [year]
    got = await monitoring.get_monitoring_report(
        session=world.session, principal=manager, number=cert.number, report_id=filed.id
    )
    assert got.id == filed.id
    with pytest.raises(NotFound):
        await monitoring.get_monitoring_report(
            session=world.session,
            principal=world.manager(uuid.uuid4()),
            number=cert.number,
            report_id=filed.id,
        )
