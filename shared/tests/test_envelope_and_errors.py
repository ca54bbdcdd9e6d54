"""CloudEvents envelope and problem details: pure units."""

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from innopark_shared.errors import Conflict, install_problem_handlers
from innopark_shared.kafka import Envelope
from innopark_shared.settings import ServiceSettings
from pydantic import BaseModel, Field


def test_envelope_round_trips_through_kafka_headers():
    sent = Envelope(
        id="e1",
        type="org.innopark.x.v1",
        source="/innopark/x",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    headers = dict(sent.headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_time"] == b"2026-01-02T03:04:05Z"
    assert Envelope.from_headers(sent.headers()) == sent


def test_envelope_without_required_attributes_is_rejected():
    with pytest.raises(ValueError, match="ce_type"):
        Envelope.from_headers([("ce_id", b"1"), ("ce_source", b"/x")])


def test_settings_accept_plain_postgres_urls():
    s = ServiceSettings(database_url="postgres://u:p@h:5/db")
    assert s.database_url == "postgresql+asyncpg://u:p@h:5/db"


class Thing(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=0)


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(thing: Thing) -> Thing:
        if thing.name == "taken":
            raise Conflict("name taken", name=thing.name)
        return thing

    return app


async def test_validation_errors_are_problem_details_naming_fields():
    async with AsyncClient(transport=ASGITransport(_app()), base_url="http://t") as client:
        r = await client.post("/things", json={"name": "", "size": -1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {e["field"] for e in body["errors"]} == {"name", "size"}
    assert body["status"] == 422 and body["title"]


async def test_malformed_json_is_a_422_problem_not_a_500():
    async with AsyncClient(transport=ASGITransport(_app()), base_url="http://t") as client:
        r = await client.post(
            "/things", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_domain_errors_and_unknown_routes_render_as_problems():
    async with AsyncClient(transport=ASGITransport(_app()), base_url="http://t") as client:
        conflict = await client.post("/things", json={"name": "taken", "size": 1})
        missing = await client.get("/nowhere")
    assert conflict.status_code == 409 and conflict.json()["name"] == "taken"
    assert conflict.json()["type"].endswith("/conflict")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
