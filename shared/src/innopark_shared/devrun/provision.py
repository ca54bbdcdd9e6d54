"""Database provisioning: one database, and per service one schema owned by one role.

A service's role owns its schema and has no rights on the others', so no service can read
another's tables (DESIGN.md §2, rule 5). Run with an administrator's URL; idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


EXTENSIONS = ["pg_trgm", "unaccent", "citext", "btree_gin"]


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    role: str
    password: str
    schema: str
    url: str  # postgresql+asyncpg URL for the service's own role


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def provision(
    admin_url: str,
    services: list[str],
    *,
    database: str = "innopark",
    password_for=lambda service: f"{service}-dev-password",
) -> dict[str, ServiceDatabase]:
    """Create `database`, and for each service a role `innopark_<service>` owning schema
    `<service>`. Returns each service's connection URL."""
    admin = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f"CREATE DATABASE {_quote_ident(database)}")
            log.info("created database %s", database)
    finally:
        await conn.close()

    target = admin.set(database=database)
    conn = await asyncpg.connect(target.render_as_string(hide_password=False))
    result: dict[str, ServiceDatabase] = {}
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # Extensions need a superuser; services use them from `public` (search, fuzzy
        # matching, case-insensitive text).
        for extension in EXTENSIONS:
            await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA public")
        for service in services:
            role = f"innopark_{service}"
            password = password_for(service)
            role_exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            verb = "ALTER" if role_exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {_quote_ident(role)} LOGIN PASSWORD {_quote_literal(password)}"
            )
            await conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(service)} "
                f"AUTHORIZATION {_quote_ident(role)}"
            )
            await conn.execute(f"REVOKE ALL ON SCHEMA {_quote_ident(service)} FROM PUBLIC")
            await conn.execute(
                f"ALTER ROLE {_quote_ident(role)} SET search_path = {_quote_ident(service)}, public"
            )
            url = target.set(
                drivername="postgresql+asyncpg", username=role, password=password
            ).render_as_string(hide_password=False)
            result[service] = ServiceDatabase(service, role, password, service, url)
    finally:
        await conn.close()
    return result
