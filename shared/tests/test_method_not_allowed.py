"""The HTTP semantics layer (`HttpSemanticsMiddleware`). A path answers the methods of its
own path item: the first template (in routing order) that matches the path owns it, even
when a later template would take the method. HEAD, If-None-Match and 415 cross in it too."""

from fastapi import APIRouter, FastAPI, Response
from httpx import ASGITransport, AsyncClient
from innopark_shared.errors import install_problem_handlers
from innopark_shared.web import HttpSemanticsMiddleware


def app_with_overlapping_paths() -> FastAPI:
    router = APIRouter(prefix="/api/v1")

    @router.get("/parks/autocomplete")
    async def autocomplete() -> list[str]:
        return []

    @router.get("/parks/{park_id}")
    async def read(park_id: str) -> dict[str, str]:
        return {"id": park_id}

    @router.patch("/parks/{park_id}")
    async def change(park_id: str) -> dict[str, str]:
        return {"id": park_id}

    @router.delete("/parks/{park_id}/residents/{resident_id}", status_code=204)
    async def remove(park_id: str, resident_id: str) -> None:
        return None

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.add_middleware(HttpSemanticsMiddleware)
    return app


async def test_each_path_answers_its_own_methods_and_names_them():
    app = app_with_overlapping_paths()
    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        # Starlette alone would route this to PATCH /parks/{park_id}.
        wrong = await client.patch("/api/v1/parks/autocomplete")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET, HEAD"
        assert wrong.headers["content-type"] == "application/problem+json"
        assert (await client.patch("/api/v1/parks/p1")).json() == {"id": "p1"}
        posted = await client.post("/api/v1/parks/p1")
        assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD, PATCH"
        nested = await client.get("/api/v1/parks/p1/residents/r1")
        assert nested.status_code == 405 and nested.headers["allow"] == "DELETE"
        assert (await client.delete("/api/v1/parks/p1/residents/r1")).status_code == 204
        assert (await client.get("/api/v1/nowhere")).status_code == 404
        assert (await client.get("/api/v1/parks/autocomplete")).json() == []


async def test_a_head_with_if_none_match_is_a_304_and_never_carries_a_body():
    """The merged layer's crossing cases: a HEAD is answered as its GET, so a matching
    If-None-Match makes it a 304; without one it keeps the GET's headers and drops the
    body; a POST in a type its route does not read is a 415 before the route runs."""
    app = app_with_overlapping_paths()

    @app.get("/tagged")
    async def tagged(response: Response) -> dict[str, str]:
        response.headers["ETag"] = '"v1"'
        return {"state": "v1"}

    @app.post("/things", status_code=201)
    async def create(body: dict[str, str]) -> dict[str, str]:
        return body

    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        fresh = await client.head("/tagged", headers={"If-None-Match": 'W/"v1"'})
        assert fresh.status_code == 304 and fresh.content == b""
        assert "content-length" not in fresh.headers
        stale = await client.head("/tagged", headers={"If-None-Match": '"v0"'})
        assert stale.status_code == 200 and stale.content == b""
        assert stale.headers["etag"] == '"v1"'
        assert int(stale.headers["content-length"]) == len(b'{"state":"v1"}')
        got = await client.get("/tagged", headers={"If-None-Match": '"v1"'})
        assert got.status_code == 304 and got.content == b""
        refused = await client.post(
            "/things", content=b"a=b", headers={"Content-Type": "text/plain"}
        )
        assert refused.status_code == 415
        assert refused.headers["accept-post"] == "application/json"
        taken = await client.post("/things", json={"a": "b"})
        assert taken.status_code == 201 and taken.json() == {"a": "b"}
