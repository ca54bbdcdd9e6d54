"""Matching an order to parks and residents, from the local read model only.

Residents: tag overlap (order technology tags vs the resident's technologies and
sectors) and text relevance (PostgreSQL full text: the order's most frequent lexemes,
OR-ed, ranked against the resident's name, technologies, sectors and description).
Parks: tag overlap with their specialisations, and how many of their residents matched.
Every match carries its explanation: which tags, which terms, what weights.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import OrdersSettings
from ..models import Order, OrderMatch, known_parks
from ..residents import TEXT_CONFIG

MAX_QUERY_LEXEMES = 64


@dataclass(frozen=True)
class Match:
    target_kind: str
    target_id: uuid.UUID
    name: str
    score: float
    explanation: dict[str, Any]
    park_id: uuid.UUID | None = None


def order_text(order: Order) -> str:
    return " ".join([order.title, " ".join(order.technology_tags), order.description])


async def _query_string(session: AsyncSession, text: str) -> str:
    """The order's most frequent lexemes as an OR query (tsquery syntax)."""
    result = await session.execute(
        sa.text(
            "SELECT string_agg(quote_literal(lexeme), ' | ') FROM ("
            f" SELECT lexeme FROM unnest(to_tsvector('{TEXT_CONFIG}', :text))"
            " ORDER BY cardinality(positions) DESC, lexeme LIMIT :n) s"
        ),
        {"text": text, "n": MAX_QUERY_LEXEMES},
    )
    return result.scalar_one() or ""


async def match_residents(
    session: AsyncSession, *, tags: list[str], text: str, settings: OrdersSettings
) -> list[Match]:
    tags = sorted({t.lower() for t in tags})
    query = await _query_string(session, text)
    w_tags, w_text = settings.match_weight_tags, settings.match_weight_text
    # Tag matches come from the GIN index on tags and are scored first. A resident without
    # a matching tag scores at most `w_text`, so the full-text scan over the others runs
    # only when fewer than `limit` tag matches score at least that (a one-time filter).
    candidate = """
            SELECT r.resident_id, r.park_id, r.name, {matched_tags} AS matched_tags,
                   CASE WHEN q.q IS NULL THEN 0 ELSE ts_rank(r.search, q.q) END AS text_rank
            FROM known_residents r, q
            WHERE NOT r."left" AND {where}
    """
    score = """
            SELECT *, cardinality(matched_tags)::float / :ntags AS tag_score,
                   text_rank / (text_rank + :half_rank) AS text_score,
                   :w_tags * cardinality(matched_tags)::float / :ntags
                     + :w_text * text_rank / (text_rank + :half_rank) AS score
            FROM {source}
    """
    sql = sa.text(
        f"""
        WITH q AS (
            SELECT CASE WHEN :query = '' THEN NULL ELSE to_tsquery('simple', :query) END AS q
        ),
        tagged AS ({
            candidate.format(
                matched_tags="ARRAY(SELECT unnest(r.tags) INTERSECT "
                "SELECT unnest(CAST(:tags AS text[])))",
                where="r.tags && CAST(:tags AS varchar[])",
            )
        }),
        tag_scored AS ({score.format(source="tagged")}),
        enough AS (SELECT count(*) >= :limit AS ok FROM tag_scored WHERE score >= :w_text),
        texted AS ({
            candidate.format(
                matched_tags="ARRAY[]::text[]",
                where="NOT (SELECT ok FROM enough) AND q.q IS NOT NULL AND r.search @@ q.q "
                "AND NOT (r.tags && CAST(:tags AS varchar[]))",
            )
        }),
        text_scored AS ({score.format(source="texted")})
        SELECT resident_id, park_id, name, matched_tags, tag_score, text_score, score
        FROM (SELECT * FROM tag_scored UNION ALL SELECT * FROM text_scored) s
        WHERE score >= :min_score
        ORDER BY score DESC, resident_id
        LIMIT :limit
        """
    )
    rows = (
        await session.execute(
            sql,
            {
                "query": query,
                "tags": tags,
                "ntags": float(max(len(tags), 1)),
                "w_tags": w_tags,
                "w_text": w_text,
                "min_score": settings.match_min_score,
                "half_rank": settings.match_text_half_rank,
                "limit": settings.match_max_residents,
            },
        )
    ).all()
    terms = await _matched_terms(session, [row.resident_id for row in rows], text)
    return [
        Match(
            target_kind="resident",
            target_id=row.resident_id,
            park_id=row.park_id,
            name=row.name,
            score=round(row.score, 4),
            explanation={
                "matched_tags": sorted(row.matched_tags),
                "tag_score": round(row.tag_score, 4),
                "matched_terms": terms.get(row.resident_id, []),
                "text_score": round(row.text_score, 4),
                "weights": {"tags": w_tags, "text": w_text},
                "formula": "tags * tag_score + text * text_score; "
                f"text_score = rank / (rank + {settings.match_text_half_rank})",
            },
        )
        for row in rows
    ]


async def _matched_terms(
    session: AsyncSession, resident_ids: list[uuid.UUID], text: str
) -> dict[uuid.UUID, list[str]]:
    """The order's lexemes each ranked resident shares (only for the few that ranked)."""
    if not resident_ids:
        return {}
    result = await session.execute(
        sa.text(
            "WITH o AS (SELECT tsvector_to_array(to_tsvector("
            f"'{TEXT_CONFIG}', :text)) AS lexemes) "
            "SELECT r.resident_id, ARRAY(SELECT unnest(tsvector_to_array(r.search)) "
            "INTERSECT SELECT unnest(o.lexemes) ORDER BY 1 LIMIT 20) AS terms "
            "FROM known_residents r, o WHERE r.resident_id = ANY(:ids)"
        ),
        {"text": text, "ids": resident_ids},
    )
    return {row.resident_id: list(row.terms) for row in result}


async def match_parks(
    session: AsyncSession, *, tags: list[str], residents: list[Match], settings: OrdersSettings
) -> list[Match]:
    wanted = {t.lower() for t in tags}
    per_park: dict[uuid.UUID, int] = {}
    for match in residents:
        if match.park_id is not None:
            per_park[match.park_id] = per_park.get(match.park_id, 0) + 1
    most = max(per_park.values(), default=0)
    w_tags, w_text = settings.match_weight_tags, settings.match_weight_text
    parks = (
        await session.execute(
            sa.select(
                known_parks.c.park_id, known_parks.c.name, known_parks.c.specializations
            ).where(known_parks.c.removed.is_(False))
        )
    ).all()
    out = []
    for park in parks:
        matched = sorted(wanted & {s.lower() for s in park.specializations})
        tag_score = len(matched) / max(len(wanted), 1)
        resident_score = per_park.get(park.park_id, 0) / most if most else 0.0
        score = w_tags * tag_score + w_text * resident_score
        if score < settings.match_min_score:
            continue
        out.append(
            Match(
                target_kind="park",
                target_id=park.park_id,
                name=park.name,
                score=round(score, 4),
                explanation={
                    "matched_tags": matched,
                    "tag_score": round(tag_score, 4),
                    "matched_residents": per_park.get(park.park_id, 0),
                    "resident_score": round(resident_score, 4),
                    "weights": {"tags": w_tags, "residents": w_text},
                    "formula": "tags * tag_score + residents * resident_score",
                },
            )
        )
    out.sort(key=lambda m: (-m.score, str(m.target_id)))
    return out[: settings.match_max_parks]


async def match_order(
    session: AsyncSession, *, order: Order, settings: OrdersSettings
) -> tuple[list[Match], list[Match]]:
    """Rank parks and residents for `order` and store the result (replacing earlier runs)."""
    residents = await match_residents(
        session, tags=order.technology_tags, text=order_text(order), settings=settings
    )
    parks = await match_parks(
        session, tags=order.technology_tags, residents=residents, settings=settings
    )
    await session.execute(sa.delete(OrderMatch).where(OrderMatch.order_id == order.id))
    rows = [
        {
            "order_id": order.id,
            "target_kind": m.target_kind,
            "target_id": m.target_id,
            "rank": rank,
            "score": m.score,
            "explanation": {**m.explanation, "name": m.name},
        }
        for group in (parks, residents)
        for rank, m in enumerate(group, start=1)
    ]
    if rows:
        await session.execute(sa.insert(OrderMatch), rows)
    return parks, residents
