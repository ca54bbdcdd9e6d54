"""Full-text search over names and descriptions, in Russian and English (residents search
the same way), and autocomplete over park names and their transliterations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from innopark_shared.db import contains_pattern
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Park
from ..text import transliterations


async def plan_search_with_its_words(session: AsyncSession) -> None:
    """Plan this transaction's queries for their actual parameters. A cached generic plan
    cannot see how rare the searched words are and scans the whole table; with the query
    words folded in, the planner uses the GIN index and the search stays flat as data grow."""
    await session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))


def tsquery(q: str) -> sa.ColumnElement[Any]:
    """Stemmed query (Russian stemmer for Cyrillic words, English for Latin ones) OR'ed
    with the query's transliterations matched against the names' exact spellings."""
    query: sa.ColumnElement[Any] = sa.func.websearch_to_tsquery(
        sa.literal_column("'russian'::regconfig"), q
    )
    for spelled in transliterations(q):
        query = query.op("||")(
            sa.func.websearch_to_tsquery(sa.literal_column("'simple'::regconfig"), spelled)
        )
    return query


def matches(search_vector: Any, q: str) -> sa.ColumnElement[bool]:
    return search_vector.op("@@")(tsquery(q))


def relevance(search_vector: Any, q: str) -> sa.ColumnElement[float]:
    """How well a row matches `q`; typed, so a page cursor holding it parses as a REAL."""
    return sa.func.ts_rank(search_vector, tsquery(q), type_=sa.REAL)


async def suggest_parks(*, session: AsyncSession, q: str, limit: int) -> list[Park]:
    """Autocomplete: names (and transliterations) containing what was typed, best first."""
    typed = q.strip().lower()
    spellings = [typed, *transliterations(typed)]
    match = sa.or_(*[Park.search_names.ilike(contains_pattern(s)) for s in spellings])
    score = (
        sa.func.greatest(*[sa.func.word_similarity(s, Park.search_names) for s in spellings])
        if len(spellings) > 1
        else sa.func.word_similarity(typed, Park.search_names)
    )
    stmt = (
        sa.select(Park)
        .where(Park.removed_at.is_(None), match)
        .order_by(score.desc(), Park.name, Park.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
