"""Input that passes validation but not PostgreSQL is still the client's error (4xx)."""

import uuid

import sqlalchemy as sa
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from innopark_shared.db import Database, SessionDep
from innopark_shared.errors import install_problem_handlers
from pydantic import BaseModel


class NoteIn(BaseModel):
    id: uuid.UUID
    text: str
    rank: int


async def test_data_exceptions_are_422_and_unique_races_409(infra):
    url = (await infra.create_database("dberr")).replace("postgresql://", "postgresql+asyncpg://")
    database = Database(url)
    notes = sa.Table(
        "notes",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("text", sa.Text),
        sa.Column("rank", sa.SmallInteger),
    )
    async with database.engine.begin() as conn:
        await conn.run_sync(notes.metadata.create_all)

    app = FastAPI()
    app.state.database = database
    install_problem_handlers(app)

    @app.post("/notes", status_code=201)
    async def create(note: NoteIn, session: SessionDep) -> dict:
        await session.execute(sa.insert(notes).values(**note.model_dump()))
        return {"ok": True}

    try:
        async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
            nul = await client.post(
                "/notes", json={"id": str(uuid.uuid4()), "text": "a\u0000b", "rank": 1}
            )
            big = await client.post(
                "/notes", json={"id": str(uuid.uuid4()), "text": "a", "rank": 10**6}
            )
            same = str(uuid.uuid4())
            first = await client.post("/notes", json={"id": same, "text": "a", "rank": 1})
            again = await client.post("/notes", json={"id": same, "text": "b", "rank": 2})
        assert nul.status_code == 422 and nul.headers["content-type"] == "application/problem+json"
        assert big.status_code == 422
        assert first.status_code == 201
        assert again.status_code == 409
    finally:
        await database.dispose()
