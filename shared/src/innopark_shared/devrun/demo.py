"""`innopark-dev demo` (`make demo`): a data set a newcomer can explore, loaded into the
running dev platform through its public API only, from the facts of DESIGN.md §6.

Real organisations: the association's St Petersburg Technopark with the Ingria Business
Incubator and the Cluster Development Centre, the two pilot clusters, Technopolis Himgrad
and Technopolis Gousev with their cooperation agreement, the federal programme's figures,
the Open Innovations forum and the St Petersburg International Innovation Forum. Where a
story needs more than the sources give (resident companies, a partner corporation, people
registering), the filler is generated and says so in its name or description.

Every step first looks for what it would create, so loading twice changes nothing. Demo
users for every role get the passwords of DEMO_USERS; the dev runner alone offers this
command, so they exist only in the embedded default.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from .runner import RunnerConfig

FILLER = "(generated demo filler)"

PARKS: list[dict[str, Any]] = [
    {
        "name": "St Petersburg Technopark",
        "latitude": 59.9386,
        "longitude": 30.3141,
        "kind": "technopark",
        "country": "RU",
        "region": "St Petersburg",
        "city": "St Petersburg",
        "specializations": ["it", "medicine", "robotics", "composite materials"],
        "ownership": "public",
        "membership_status": "member",
        "description": "Home of the Ingria Business Incubator and the Cluster Development "
        "Centre; engineering centres planned for two pilot clusters (about RUB 1 bn).",
    },
    {
        "name": "Ingria Business Incubator",
        "latitude": 59.957,
        "longitude": 30.308,
        "parent": "St Petersburg Technopark",
        "kind": "business_incubator",
        "country": "RU",
        "region": "St Petersburg",
        "city": "St Petersburg",
        "founded_year": 2008,
        "specializations": ["it", "medicine", "robotics", "composite materials"],
        "description": "Pilot since 2008: 60 residents, who attracted about RUB 1.5 bn; IT "
        "first, then medicine, robotics and composite materials.",
    },
    {
        "name": "Cluster Development Centre of St Petersburg",
        "latitude": 59.9311,
        "longitude": 30.3609,
        "parent": "St Petersburg Technopark",
        "kind": "cluster_development_centre",
        "country": "RU",
        "region": "St Petersburg",
        "city": "St Petersburg",
        "founded_year": 2014,
        "specializations": ["clusters"],
        "description": "Since November 2014; 37 clusters identified in St Petersburg.",
    },
    {
        "name": "Technopolis Himgrad",
        "latitude": 55.85,
        "longitude": 49.07,
        "kind": "technopolis",
        "country": "RU",
        "region": "Tatarstan",
        "city": "Kazan",
        "founded_year": 2006,
        "specializations": [
            "oil-field chemistry",
            "low-tonnage chemistry",
            "polymer processing",
            "plastic recycling",
            "nanoindustry",
            "energy saving",
            "medicine",
            "pharmacology",
        ],
        "membership_status": "member",
        "description": "120 resident companies, over 100 products, over 60 patents and "
        "trademarks, 20 know-how.",
    },
    {
        "name": "Technopolis Gousev",
        "latitude": 54.591,
        "longitude": 22.199,
        "kind": "technopolis",
        "country": "RU",
        "region": "Kaliningrad region",
        "city": "Gusev",
        "founded_year": 2008,
        "ownership": "private",
        "specializations": ["radio electronics"],
        "membership_status": "member",
        "description": "Fully private; a radio-electronics cluster with a business incubator, "
        "a lab complex, a venture fund and a design bureau.",
    },
]

RESIDENTS: list[dict[str, Any]] = [
    {
        "park": "Technopolis Himgrad",
        "name": f"Kazan Polymer Works {FILLER}",
        "technologies": ["polymer processing", "composite materials", "plastic recycling"],
        "description": "Composite and polymer parts on a pilot line.",
        "contact_email": "polymer.works@demo.innopark.example",
        "legal_country": "RU",
        "registration_number": "1161690000001",
    },
    {
        "park": "Technopolis Himgrad",
        "name": f"Himgrad Nano Coatings {FILLER}",
        "technologies": ["nanoindustry", "energy saving"],
        "description": "Nanostructured coatings for heat exchangers.",
        "legal_country": "RU",
        "registration_number": "1161690000002",
    },
    {
        "park": "Ingria Business Incubator",
        "name": f"Neva Robotics {FILLER}",
        "technologies": ["robotics", "composite materials"],
        "description": "Robotic layup of composite panels.",
        "contact_email": "neva.robotics@demo.innopark.example",
        "legal_country": "RU",
        "registration_number": "1177800000003",
    },
    {
        "park": "Technopolis Gousev",
        "name": f"Gousev Radio Design {FILLER}",
        "technologies": ["radio electronics"],
        "description": "Antenna and RF module design.",
        "legal_country": "RU",
        "registration_number": "1183900000004",
    },
]

CLUSTERS: list[dict[str, Any]] = [
    {
        "name": "Pharmaceutical, Medical Industry and Radiation Technologies Cluster of "
        "St Petersburg",
        "country": "RU",
        "region": "St Petersburg",
        "coordinator": "Cluster Development Centre of St Petersburg",
        "specializations": ["pharmaceuticals", "medical industry", "radiation technologies"],
    },
    {
        "name": "St Petersburg Cluster for the development of information technologies, radio "
        "electronics, instrument making industry, communication facilities and "
        "infotelecommunications",
        "country": "RU",
        "region": "St Petersburg",
        "coordinator": "Cluster Development Centre of St Petersburg",
        "specializations": ["it", "radio electronics", "instrument making"],
    },
]

AGREEMENT: dict[str, Any] = {
    "title": "Cooperation agreement between Technopolis Himgrad and Technopolis Gousev",
    "parties": ["Technopolis Himgrad", "Technopolis Gousev"],
    "signed_at": "St Petersburg International Innovation Forum",
    "scope": "Joint projects of their residents; exchange of incubation practice.",
}

# The federal programme (2007–2014) across its 12 technoparks; per park, the sources give
# only residents: the other figures are the programme's averages per park, marked filler.
KPI_REPORTS: list[dict[str, Any]] = [
    {
        "park": "Technopolis Himgrad",
        "year": 2014,
        "residents": 120,
        "jobs": 1625,  # 19.5 thousand jobs / 12 parks (filler)
        "resident_revenue": "13333000000.00",  # RUB 160 bn / 12 (filler)
        "taxes_paid": "1100000000.00",  # filler
        "investments_attracted": "2616000000.00",  # RUB 31.4 bn federal + regional / 12
        "area_occupied": "39583.00",  # 475 thousand m2 / 12 (filler)
    },
    {
        "park": "Ingria Business Incubator",
        "year": 2014,
        "residents": 60,
        "jobs": 600,  # filler
        "resident_revenue": "1500000000.00",  # "attracted about RUB 1.5 bn"
        "taxes_paid": "120000000.00",  # filler
        "investments_attracted": "1500000000.00",
        "area_occupied": "12000.00",  # filler
    },
]

PARTNER: dict[str, Any] = {
    "name": f"Nordic Composites Group {FILLER}",
    "country": "FI",
    "agreement": "Receives technology orders under the association's partner agreement.",
    "contact_email": "scouting@demo-partner.example",
}

ORDER: dict[str, Any] = {
    "title": "Lightweight composite brackets for cabin interiors",
    "description": "Composite parts with certified fire behaviour (FAR 25.853); a pilot "
    "line able to deliver 5,000 parts a year.",
    "technology_tags": ["composite materials", "polymer processing"],
    "trl": 6,
    "cooperation_types": ["supply", "joint_rnd"],
    "budget_min": "100000",
    "budget_max": "400000",
    "currency": "EUR",
    "deadline": "2030-12-31T00:00:00Z",
}

# Every role, with passwords that pass the gateway's rules. Embedded default only.
DEMO_USERS: dict[str, dict[str, Any]] = {
    "manager": {
        "email": "manager@himgrad.demo.innopark.example",
        "password": "Himgrad-Park-2026!",
        "role": "park_manager",
        "park": "Technopolis Himgrad",
    },
    "resident": {
        "email": "resident@polymer.demo.innopark.example",
        "password": "Polymer-Works-2026!",
        "role": "resident",
        "resident": RESIDENTS[0]["name"],
    },
    "resident2": {
        "email": "resident@neva.demo.innopark.example",
        "password": "Neva-Robotics-2026!",
        "role": "resident",
        "resident": RESIDENTS[2]["name"],
    },
    "partner": {
        "email": "scout@nordic.demo.innopark.example",
        "password": "Nordic-Orders-2026!",
        "role": "partner",
        "partner": PARTNER["name"],
    },
    "expert": {
        "email": "expert@demo.innopark.example",
        "password": "Accredit-Gold-2026!",
        "role": "expert",
    },
}


def _next_november(day: int) -> datetime:
    now = datetime.now(UTC)
    year = now.year if (now.month, now.day) < (11, day - 14) else now.year + 1
    return datetime(year, 11, day, 7, 0, tzinfo=UTC)  # 10:00 in Moscow


def _events() -> list[dict[str, Any]]:
    forum = _next_november(28)
    open_innovations = _next_november(16)
    return [
        {
            "title": "St Petersburg International Innovation Forum",
            "type": "forum",
            "starts_at": forum.isoformat(),
            "ends_at": forum.replace(day=30, hour=15).isoformat(),
            "capacity": 500,
            "timezone": "Europe/Moscow",
            "city": "St Petersburg",
            "country": "RU",
            "venue": "Expoforum",
            "languages": ["ru", "en"],
            "organiser_name": "Association of Technological Parks in High-tech Area",
            "description": "Where Himgrad and Gousev signed their cooperation agreement.",
        },
        {
            "title": "Open Innovations forum",
            "type": "forum",
            "starts_at": open_innovations.isoformat(),
            "ends_at": open_innovations.replace(day=18, hour=15).isoformat(),
            "capacity": 300,
            "timezone": "Europe/Moscow",
            "city": "Moscow",
            "country": "RU",
            "languages": ["ru", "en"],
            "organiser_name": "Association of Technological Parks in High-tech Area",
            "description": 'Collective stand "Technoparks in sphere of high technologies".',
        },
    ]


REGISTRATIONS = [
    ("Anna Ivanova", "anna.ivanova@demo-visitor.example", "Technopolis Himgrad"),
    ("Li Wei", "li.wei@demo-visitor.example", "中关村科技园区 (Zhongguancun Science Park)"),
    ("Mikko Virtanen", "mikko.virtanen@demo-visitor.example", "Technopolis Oulu"),
]


BINDINGS = {"park_id", "resident_id", "partner_id"}


class DemoError(RuntimeError):
    pass


class Loader:
    """Each `ensure_*` finds what it would create first; `self.counts` says what it did."""

    def __init__(self, client: httpx.AsyncClient, admin: tuple[str, str]) -> None:
        self.client = client
        self.admin = admin
        self.headers: dict[str, dict[str, str]] = {}
        self.parks: dict[str, dict] = {}
        self.residents: dict[str, dict] = {}
        self.users: dict[str, str] = {}  # demo user key -> user id
        self.partner: dict | None = None
        self.created = 0
        self.present = 0

    # -- plumbing ---------------------------------------------------------------------

    def say(self, what: str, name: str, created: bool) -> None:
        if created:
            self.created += 1
        else:
            self.present += 1
        print(f"  {'+' if created else '='} {what}: {name}", flush=True)

    async def call(self, method: str, path: str, *, who: str = "operator", **kw) -> httpx.Response:
        """A request as `who`, waiting out 503s (a service still starting)."""
        deadline = time.monotonic() + 60
        while True:
            r = await self.client.request(method, path, headers=self.headers.get(who), **kw)
            if r.status_code != 503 or time.monotonic() > deadline:
                return r
            await asyncio.sleep(min(float(r.headers.get("retry-after", 1)), 2))

    async def ok(self, method: str, path: str, *, who: str = "operator", **kw) -> Any:
        r = await self.call(method, path, who=who, **kw)
        if r.status_code >= 400:
            raise DemoError(f"{method} {path} as {who}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    async def until(self, what: str, check: Callable[[], Awaitable[bool]], timeout=60) -> None:
        """Wait for an event to reach another service (bindings, read models)."""
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise DemoError(f"timed out waiting for {what}")
            await asyncio.sleep(0.5)

    async def sign_in(self, who: str, email: str, password: str) -> None:
        token = await self.ok(
            "POST",
            "/api/v1/auth/token",
            who="anonymous",
            data={"grant_type": "password", "username": email, "password": password},
        )
        self.headers[who] = {"Authorization": f"Bearer {token['access_token']}"}

    async def all_items(self, path: str, *, who: str = "operator", **params) -> list[dict]:
        items, cursor = [], None
        while True:
            page = await self.ok(
                "GET", path, who=who, params={**params, "limit": 200, "cursor": cursor}
            )
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                return items

    # -- registry ----------------------------------------------------------------------

    async def ensure_parks(self) -> None:
        for spec in PARKS:
            body = {k: v for k, v in spec.items() if k != "parent"}
            if "parent" in spec:
                body["parent_id"] = self.parks[spec["parent"]]["id"]
            found = [
                p
                for p in (await self.ok("GET", "/api/v1/parks", params={"q": spec["name"]}))[
                    "items"
                ]
                if p["name"] == spec["name"]
            ]
            created = not found
            park = found[0] if found else await self.ok("POST", "/api/v1/parks", json=body)
            self.parks[spec["name"]] = park
            self.say("park", spec["name"], created)

    async def ensure_residents(self) -> None:
        for spec in RESIDENTS:
            park = self.parks[spec["park"]]
            existing = {
                r["name"]: r for r in await self.all_items(f"/api/v1/parks/{park['id']}/residents")
            }
            created = spec["name"] not in existing
            if created:
                body = {k: v for k, v in spec.items() if k != "park"}
                resident = await self.ok("POST", f"/api/v1/parks/{park['id']}/residents", json=body)
            else:
                resident = existing[spec["name"]]
            self.residents[spec["name"]] = resident
            self.say("resident", spec["name"], created)

    async def ensure_clusters_and_agreement(self) -> None:
        clusters = {c["name"]: c for c in await self.all_items("/api/v1/clusters")}
        for spec in CLUSTERS:
            created = spec["name"] not in clusters
            if created:
                body = {k: v for k, v in spec.items() if k != "coordinator"}
                body["coordinator_park_id"] = self.parks[spec["coordinator"]]["id"]
                await self.ok("POST", "/api/v1/clusters", json=body)
            self.say("cluster", spec["name"][:70], created)
        agreements = {a["title"] for a in await self.all_items("/api/v1/agreements")}
        created = AGREEMENT["title"] not in agreements
        if created:
            await self.ok(
                "POST",
                "/api/v1/agreements",
                json={
                    **{k: v for k, v in AGREEMENT.items() if k != "parties"},
                    "parties": [
                        {"name": p, "park_id": self.parks[p]["id"]} for p in AGREEMENT["parties"]
                    ],
                },
            )
        self.say("agreement", AGREEMENT["title"], created)

    async def ensure_kpi_reports(self) -> None:
        for spec in KPI_REPORTS:
            park = self.parks[spec["park"]]
            path = f"/api/v1/parks/{park['id']}/kpi-reports"
            filed = {(r["year"], r["quarter"]) for r in await self.all_items(path)}
            created = (spec["year"], None) not in filed
            if created:
                await self.ok("POST", path, json={k: v for k, v in spec.items() if k != "park"})
            self.say("KPI report", f"{spec['park']} {spec['year']}", created)

    # -- people ------------------------------------------------------------------------

    async def ensure_partner(self) -> None:
        partners = {p["name"]: p for p in await self.all_items("/api/v1/partners")}
        created = PARTNER["name"] not in partners
        self.partner = (
            await self.ok("POST", "/api/v1/partners", json=PARTNER)
            if created
            else partners[PARTNER["name"]]
        )
        self.say("partner", PARTNER["name"], created)

    async def ensure_users(self) -> None:
        existing = {u["email"]: u for u in await self.all_items("/api/v1/users")}
        for key, spec in DEMO_USERS.items():
            body: dict[str, Any] = {
                "email": spec["email"],
                "password": spec["password"],
                "role": spec["role"],
                "name": f"Demo {key}",
            }
            if "park" in spec:
                body["park_id"] = self.parks[spec["park"]]["id"]
            if "resident" in spec:
                body["resident_id"] = self.residents[spec["resident"]]["id"]
            if "partner" in spec:
                assert self.partner is not None
                body["partner_id"] = self.partner["id"]
            created = spec["email"] not in existing
            if created:
                made: dict = {}

                async def bound(body: dict = body, made: dict = made) -> bool:
                    # A binding is refused (422) until the bound thing's event has reached
                    # the gateway, a moment after it was created.
                    r = await self.call("POST", "/api/v1/users", json=body)
                    if r.status_code == 201:
                        made.update(r.json())
                        return True
                    fields = {e.get("field") for e in r.json().get("errors", [])}
                    if r.status_code != 422 or not fields <= BINDINGS:
                        raise DemoError(f"POST /api/v1/users: {r.status_code} {r.text[:300]}")
                    return False

                await self.until(f"the binding of {spec['email']}", bound)
                self.users[key] = made["id"]
            else:
                self.users[key] = existing[spec["email"]]["id"]
            await self.sign_in(key, spec["email"], spec["password"])
            self.say(f"user ({spec['role']})", spec["email"], created)

    # -- accreditation ---------------------------------------------------------------------

    async def ensure_accreditation(self) -> None:
        park = self.parks["Technopolis Himgrad"]

        async def known() -> bool:
            return (await self.call("GET", f"/api/v1/accreditation/parks/{park['id']}")).is_success

        await self.until("Himgrad in accreditation", known)
        accredited = await self.ok(
            "GET", "/api/v1/certificates", params={"status": "active", "limit": 200}
        )
        mine = [c for c in accredited["items"] if c.get("park_id") == park["id"]]
        if mine:
            self.say("certificate", f"{mine[0]['number']} (Technopolis Himgrad)", False)
            return
        current = await self.ok("GET", "/api/v1/accreditation/catalogues/current")
        criteria = [c for h in current["headings"] for c in h["criteria"]]
        applications = await self.all_items("/api/v1/accreditation/applications", who="manager")
        live = [a for a in applications if a["status"] in ("draft", "submitted", "under_review")]
        if live:
            application = live[0]
        else:
            application = await self.ok(
                "POST",
                "/api/v1/accreditation/applications",
                who="manager",
                json={
                    "summary": "Technopolis with 120 residents in chemistry and polymers",
                    "self_assessment": [
                        {"criterion_id": c["id"], "score": c["scale_max"], "evidence": []}
                        for c in criteria
                    ],
                },
            )
        path = f"/api/v1/accreditation/applications/{application['id']}"
        if application["status"] == "draft":
            application = await self.ok("POST", f"{path}/submit", who="manager")
        if application["status"] == "submitted":
            await self.ok("POST", f"{path}/experts", json={"expert_id": self.users["expert"]})
        await self.ok(
            "PUT",
            f"{path}/scores",
            who="expert",
            json={
                "scores": [
                    {"criterion_id": c["id"], "score": c["scale_max"], "comment": "seen on site"}
                    for c in criteria
                ]
            },
        )
        decided = await self.ok(
            "POST",
            f"{path}/decision",
            json={"outcome": "granted", "level": "gold", "reasons": "All criteria met"},
        )
        number = decided["decision"]["certificate_number"]
        self.say("certificate", f"{number} (Technopolis Himgrad)", True)

    # -- orders ------------------------------------------------------------------------

    async def ensure_order(self) -> None:
        mine = {o["title"]: o for o in await self.all_items("/api/v1/orders", who="partner")}
        created = ORDER["title"] not in mine
        order = (
            await self.ok("POST", "/api/v1/orders", who="partner", json=ORDER)
            if created
            else mine[ORDER["title"]]
        )
        path = f"/api/v1/orders/{order['id']}"
        if order["status"] == "draft":
            order = await self.ok("POST", f"{path}/submit", who="partner")
        if order["status"] == "submitted":
            order = await self.ok("POST", f"{path}/publish")
        self.say("order (published)", ORDER["title"], created)
        for who in ("resident", "resident2"):
            theirs = await self.all_items("/api/v1/proposals", who=who)
            if any(p["order_id"] == order["id"] for p in theirs):
                self.say("proposal", f"from {who}", False)
                continue

            async def proposed(who: str = who) -> bool:
                # Orders learns residents from the registry's events.
                r = await self.call(
                    "POST",
                    f"{path}/proposals",
                    who=who,
                    json={
                        "summary": "Our pilot line makes such parts today",
                        "trl": 6,
                        "timeline_weeks": 12,
                    },
                )
                if r.status_code == 201:
                    return True
                if r.status_code not in (403, 404, 409, 422):
                    raise DemoError(f"proposal by {who}: {r.status_code} {r.text[:300]}")
                return False

            await self.until(f"a proposal by {who}", proposed)
            self.say("proposal", f"from {who}", True)

    # -- events ------------------------------------------------------------------------

    async def ensure_events(self) -> None:
        for spec in _events():
            found = [
                e
                for e in await self.all_items("/api/v1/events", q=spec["title"])
                if e["title"] == spec["title"]
            ]
            created = not found
            event = found[0] if found else await self.ok("POST", "/api/v1/events", json=spec)
            if event["status"] == "draft":
                event = await self.ok("POST", f"/api/v1/events/{event['id']}/publish")
            self.say("event", spec["title"], created)
            registered = {
                r["email"]
                for r in await self.all_items(f"/api/v1/events/{event['id']}/registrations")
            }
            for name, email, organisation in REGISTRATIONS:
                created = email not in registered
                if created:
                    await self.ok(
                        "POST",
                        f"/api/v1/events/{event['id']}/registrations",
                        who="anonymous",
                        json={"full_name": name, "email": email, "organisation": organisation},
                    )
                self.say("registration", f"{name} for {spec['title']}", created)


STEPS: list[tuple[str, Callable[[Loader], Awaitable[None]]]] = [
    ("parks", Loader.ensure_parks),
    ("residents", Loader.ensure_residents),
    ("clusters and the agreement", Loader.ensure_clusters_and_agreement),
    ("KPI reports", Loader.ensure_kpi_reports),
    ("the partner corporation", Loader.ensure_partner),
    ("demo users for every role", Loader.ensure_users),
    ("an accredited park", Loader.ensure_accreditation),
    ("a published order with proposals", Loader.ensure_order),
    ("forums with registrations", Loader.ensure_events),
]


async def load(base_url: str, admin_email: str, admin_password: str) -> Loader:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        loader = Loader(client, (admin_email, admin_password))
        await loader.sign_in("operator", admin_email, admin_password)
        for n, (title, step) in enumerate(STEPS, 1):
            print(f"[{n}/{len(STEPS)}] {title}", flush=True)
            await step(loader)
    print(f"demo loaded: {loader.created} created, {loader.present} already there")
    print("demo users (embedded default only):")
    for spec in DEMO_USERS.values():
        print(f"  {spec['role']:<13} {spec['email']} / {spec['password']}")
    return loader


def main(config: RunnerConfig) -> int:
    base_url = config.url_of("gateway")
    try:
        httpx.get(f"{base_url}/livez", timeout=3).raise_for_status()
    except httpx.HTTPError:
        print(f"no platform answers at {base_url}: start it with `make up` first", file=sys.stderr)
        return 1
    try:
        asyncio.run(load(base_url, config.admin_email, config.admin_password))
    except DemoError as exc:
        print(f"demo stopped: {exc}", file=sys.stderr)
        return 1
    return 0
