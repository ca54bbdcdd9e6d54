"""Nothing lost under fire: the whole platform as real processes, a steady stream of
cross-service work through the gateway, and in turn the broker, PostgreSQL, every service
and the gateway killed with SIGKILL (once also while a read model is deliberately
behind). Afterwards every write the platform accepted is in every read model, exactly
once and in its last state, and no client ever got a 500.

The platform here is a private one (its own ports, data and broker): the faults must not
reach the other end-to-end tests' shared platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from innopark_shared.testing import Platform, running_platform, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

READ_MODELS = ["accreditation", "orders", "events"]  # each keeps known_parks
RESIDENT_MODELS = ["orders", "events"]  # each keeps known_residents
OPS_PER_SECOND = 4
OUTAGE_SECONDS = 4


@dataclass
class Ledger:
    """What the clients were told, and so what must be found afterwards."""

    parks: dict[str, str] = field(default_factory=dict)  # id -> last accepted name
    residents: set[str] = field(default_factory=set)
    answers: Counter = field(default_factory=Counter)  # status (or "no answer") -> count
    slow_503: list[float] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # answers the promise does not allow
    operations: int = 0
    gateway_killed: bool = False  # while the gateway is being killed and coming back

    def record(self, response: httpx.Response | None, seconds: float, what: str) -> None:
        self.operations += 1
        if response is None:
            self.answers["gateway down"] += 1
            return
        self.answers[response.status_code] += 1
        if response.status_code == 503:
            if "retry-after" not in response.headers:
                self.bad.append(f"{what}: 503 without Retry-After")
            if seconds > 5:
                self.slow_503.append(seconds)
        elif response.status_code >= 500 or response.status_code in (400, 404, 409, 422):
            self.bad.append(f"{what}: {response.status_code} {response.text[:300]}")


async def _call(
    client: httpx.AsyncClient, ledger: Ledger, what: str, method: str, url: str, **kwargs
) -> httpx.Response | None:
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
        # The gateway itself is down, or was killed with this request in flight: nothing
        # was promised (the request is not counted as accepted). At any other time a
        # dropped connection is a failure.
        if not ledger.gateway_killed:
            ledger.operations += 1
            ledger.answers[type(exc).__name__] += 1
            ledger.bad.append(f"{what}: {type(exc).__name__} while the gateway was up")
            return None
        response = None
    except httpx.HTTPError as exc:  # a hang (timeout) or any other failure: not allowed
        ledger.operations += 1
        ledger.answers[type(exc).__name__] += 1
        ledger.bad.append(f"{what}: {type(exc).__name__} after {time.monotonic() - started:.1f}s")
        return None
    ledger.record(response, time.monotonic() - started, what)
    return response


async def _workload(platform: Platform, headers: dict, ledger: Ledger, stop: asyncio.Event):
    """Parks created and renamed, residents admitted: one operation every 1/4 s."""
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"Fault park {n} {uuid.uuid4().hex[:6]}"
            created = await _call(
                client,
                ledger,
                "create park",
                "POST",
                "/api/v1/parks",
                headers=headers,
                json={
                    "name": name,
                    "kind": "technopark",
                    "country": "RU",
                    "region": "Fault region",
                    "specializations": ["robotics"],
                },
            )
            if created is not None and created.status_code == 201:
                park_id = created.json()["id"]
                ledger.parks[park_id] = name
                renamed = await _call(
                    client,
                    ledger,
                    "rename park",
                    "PATCH",
                    f"/api/v1/parks/{park_id}",
                    headers=headers,
                    json={"name": f"{name} (renamed)"},
                )
                if renamed is not None and renamed.status_code == 200:
                    ledger.parks[park_id] = f"{name} (renamed)"
                if n % 3 == 0:
                    admitted = await _call(
                        client,
                        ledger,
                        "admit resident",
                        "POST",
                        f"/api/v1/parks/{park_id}/residents",
                        headers=headers,
                        json={"name": f"Resident of {name}", "technologies": ["robotics"]},
                    )
                    if admitted is not None and admitted.status_code == 201:
                        ledger.residents.add(admitted.json()["id"])
            await asyncio.sleep(1 / OPS_PER_SECOND)


def _postgres_pid(platform: Platform) -> int:
    return int((platform.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _pid(platform: Platform, name: str) -> int:
    if name == "postgres":
        return _postgres_pid(platform)
    return platform.pid_of(name)


async def _kill_and_wait_back(platform: Platform, name: str) -> None:
    """SIGKILL `name`; wait until the runner has started a new one."""
    old = _pid(platform, name)
    os.kill(old, signal.SIGKILL)

    async def replaced() -> bool:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return _pid(platform, name) != old
        return False

    assert await wait_until(replaced, timeout=60, interval=0.2), f"{name} did not come back"


async def _hold_postgres_down(platform: Platform, seconds: float) -> None:
    """Keep PostgreSQL down for `seconds`: kill it, and every one the runner starts."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(_postgres_pid(platform), signal.SIGKILL)
        await asyncio.sleep(0.1)
    old = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        old = _postgres_pid(platform)

    async def accepting() -> bool:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            conn = await asyncpg.connect(platform.database_url("registry"), timeout=2)
            await conn.close()
            return True
        return False

    assert await wait_until(accepting, timeout=60, interval=0.3), f"postgres ({old}) stayed down"


async def _answers(platform: Platform) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(base_url=platform.gateway, timeout=2.0) as client:
            return (await client.get("/livez")).status_code == 200
    return False


async def _read_models(platform: Platform) -> dict[str, dict[str, str]]:
    """{service: {park id: name}} and residents per service, read from each service's own
    schema with its own role."""
    found: dict[str, dict[str, str]] = {}
    for service in READ_MODELS:
        conn = await asyncpg.connect(platform.database_url(service), timeout=5)
        try:
            rows = await conn.fetch(f"SELECT park_id, name FROM {service}.known_parks")
            found[service] = {str(r["park_id"]): r["name"] for r in rows}
            if service in RESIDENT_MODELS:
                residents = await conn.fetch(f"SELECT resident_id FROM {service}.known_residents")
                found[f"{service}:residents"] = {str(r["resident_id"]): "" for r in residents}
            applied = await conn.fetch(
                f"SELECT event_id, count(*) AS n FROM {service}.inbox GROUP BY event_id "
                "HAVING count(*) > 1"
            )
            found[f"{service}:applied twice"] = {r["event_id"]: str(r["n"]) for r in applied}
        finally:
            await conn.close()
    return found


def _differences(ledger: Ledger, found: dict[str, dict[str, str]]) -> dict[str, dict[str, int]]:
    report = {}
    for service in READ_MODELS:
        model = found.get(service, {})
        lost = [p for p in ledger.parks if p not in model]
        stale = [p for p, name in ledger.parks.items() if p in model and model[p] != name]
        counts = {
            "lost": len(lost),
            "stale": len(stale),
            "duplicated": len(found.get(f"{service}:applied twice", {})),
        }
        if service in RESIDENT_MODELS:
            residents = found.get(f"{service}:residents", {})
            counts["residents lost"] = len([r for r in ledger.residents if r not in residents])
        report[service] = counts
    return report


async def test_every_accepted_write_reaches_every_read_model_through_every_fault():
    async with running_platform() as platform:
        headers = await platform.auth()
        ledger = Ledger()
        stop = asyncio.Event()
        work = asyncio.create_task(_workload(platform, headers, ledger, stop))
        faults: list[str] = []
        try:
            await asyncio.sleep(OUTAGE_SECONDS)
            for name in [
                "broker",
                "postgres",
                "registry",
                "orders",
                "accreditation",
                "events",
                "gateway",
            ]:
                ledger.gateway_killed = name == "gateway"
                await _kill_and_wait_back(platform, name)
                faults.append(f"{name} SIGKILL")
                if ledger.gateway_killed:
                    assert await wait_until(lambda: _answers(platform), timeout=90, interval=0.3)
                    ledger.gateway_killed = False
                await asyncio.sleep(OUTAGE_SECONDS)

            await _hold_postgres_down(platform, 10)
            faults.append("postgres down 10 s")
            await asyncio.sleep(OUTAGE_SECONDS)

            # A read model deliberately behind (its process frozen), then the broker dies:
            # what orders had not consumed yet must come back from the outbox.
            orders = platform.pid_of("orders")
            os.kill(orders, signal.SIGSTOP)
            try:
                await asyncio.sleep(OUTAGE_SECONDS)
                await _kill_and_wait_back(platform, "broker")
                faults.append("broker SIGKILL while orders lags")
                await asyncio.sleep(OUTAGE_SECONDS)
            finally:
                os.kill(orders, signal.SIGCONT)
            await asyncio.sleep(OUTAGE_SECONDS)
        finally:
            stop.set()
            await work

        found: dict[str, dict[str, str]] = {}

        async def converged() -> bool:
            nonlocal found
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                found = await _read_models(platform)
            report = _differences(ledger, found)
            return all(not any(counts.values()) for counts in report.values())

        settled = await wait_until(converged, timeout=120, interval=1.0)
        report = _differences(ledger, found)
        print("\nfault suite summary")
        print(
            f"  operations driven: {ledger.operations}; parks accepted: {len(ledger.parks)}, "
            f"residents accepted: {len(ledger.residents)}"
        )
        print(f"  faults injected: {len(faults)}: {', '.join(faults)}")
        for service, counts in report.items():
            print(f"  {service:<14} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        print(
            "  client answers: "
            + ", ".join(
                f"{k}: {v}" for k, v in sorted(ledger.answers.items(), key=lambda kv: str(kv[0]))
            )
        )

        assert not ledger.bad, ledger.bad[:10]
        assert not ledger.slow_503, f"503s slower than 5 s: {ledger.slow_503}"
        assert len(ledger.parks) >= 40, "too little work got through to prove anything"
        assert settled, f"read models did not converge: {report}\n{platform.log()[-4000:]}"
        assert ledger.answers[500] == 0
