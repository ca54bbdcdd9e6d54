"""Matching an order to parks and residents, from the local read model only.

Residents: tag overlap (order technology tags vs the resident's technologies and
sectors) and text relevance (PostgreSQL full text: the order's most frequent lexemes,
OR-ed, ranked against the resident's name, technologies, sectors and description).
Parks: tag overlap with their specialisations, and how many of their residents matched.
Every match carries its explanation: which tags, which terms, what weights.

Only residents that can still enter the list are ranked for text (`ts_rank` over every
candidate is what matching cost at 100,000 residents). A resident's score is
`tags * k / n + text * text_score`, and `text_score` is at most `text_max` (the rank of an
OR query is at most RANK_WEIGHT). Residents sharing `k` of the order's `n` tags are ranked
only while `tags * k / n + text * text_max` reaches the lowest score of the list so far,
and those sharing several tags are first looked up by tag combinations in the tags index,
so that the many sharing one tag are often never read: exact, whatever the data.

Residents sharing no tag score at most `text * text_max` and are looked at only when the
list is not full of residents scoring more. That part is bounded, not exhaustive: the
candidates are the residents having one of the order's rarest lexemes, or a pair of the
next rarest (estimated from the column statistics, about `TEXT_CANDIDATES` residents in
all), each ranked against all of the order's lexemes like every other resident. Without
statistics (a new or small read model) every resident sharing a lexeme is a candidate.
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import OrdersSettings
from ..models import SCHEMA, KnownResident, Order, OrderMatch, known_parks
from ..residents import TEXT_CONFIG

MAX_QUERY_LEXEMES = 64
# Residents ranked on text alone: about this many, found by the order's rarest lexemes
# (text_candidates). An order whose lexemes are all rarer is searched with every one.
TEXT_CANDIDATES = 10_000
# Pairs are formed among this many of the order's rarest lexemes at most (66 pairs).
MAX_PAIRED_LEXEMES = 12
# Residents sharing at least `j` of the order's tags are looked up first, combination by
# combination in the tags index, when there are at most this many combinations.
MAX_TAG_COMBINATIONS = 32
# Every occurrence of a lexeme weighs this in the text rank, whatever its label (residents'
# vectors carry none: all are D, 0.1 by default). With equal weights, `ts_rank` of an OR
# query never exceeds the weight, which bounds the text score of a resident not yet ranked.
RANK_WEIGHT = 0.1


@dataclass(frozen=True)
class Match:
    target_kind: str
    target_id: uuid.UUID
    name: str
    score: float
    explanation: dict[str, Any]
    park_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Lexeme:
    lexeme: str
    quoted: str  # as the text query quotes it
    # Estimated share of residents whose text has it (None: no statistics yet).
    share: float | None


def order_text(order: Order) -> str:
    return " ".join([order.title, " ".join(order.technology_tags), order.description])


async def _order_lexemes(session: AsyncSession, text: str) -> tuple[list[Lexeme], float]:
    """The order's most frequent lexemes (the ranking query), each with the share of
    residents the statistics of `known_residents.search` say have it (its frequency among
    the most common elements, or half the least frequency listed there if it is not among
    them, as the planner assumes); and how many residents the statistics counted."""
    table = KnownResident.__tablename__
    result = await session.execute(
        sa.text(
            f"""
            WITH o AS (
                SELECT lexeme, cardinality(positions) AS tf
                FROM unnest(to_tsvector('{TEXT_CONFIG}', :text))
                ORDER BY cardinality(positions) DESC, lexeme
                LIMIT :n
            ),
            s AS MATERIALIZED (  -- the statistics' text array is parsed once
                SELECT CAST(CAST(most_common_elems AS text) AS text[]) AS elems,
                       most_common_elem_freqs AS freqs,
                       (SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass))
                         AS rows
                FROM pg_stats
                WHERE schemaname = :schema AND tablename = :name AND attname = 'search'
                  AND NOT inherited
            )
            SELECT o.lexeme, quote_literal(o.lexeme) AS quoted, s.rows,
                   coalesce(s.freqs[array_position(s.elems, o.lexeme)],
                            s.freqs[cardinality(s.elems) + 1] / 2) AS share
            FROM o LEFT JOIN s ON s.elems IS NOT NULL AND s.rows > 0
            ORDER BY o.tf DESC, o.lexeme
            """
        ),
        {
            "text": text,
            "n": MAX_QUERY_LEXEMES,
            "table": f"{SCHEMA}.{table}",
            "schema": SCHEMA,
            "name": table,
        },
    )
    rows = result.all()
    residents = max((row.rows or 0.0 for row in rows), default=0.0)
    return [Lexeme(row.lexeme, row.quoted, row.share) for row in rows], residents


def text_candidates(
    lexemes: list[Lexeme], least: int, residents: float, budget: float | None = None
) -> list[list[str]]:
    """Which residents to rank on text alone, as alternatives of lexemes that must all be in
    a resident's text (a resident matching any alternative is a candidate).

    `least`: how many of the order's lexemes a resident must have to reach the list;
    `residents`: how many there are. Without statistics, every resident having `least`
    (one, or two) of them: exact. Otherwise the lexemes rarest among residents come first,
    until about `budget` residents are expected: each alone while they are rare (within
    half the budget), then pairs of the next ones (most residents share a common word with
    any order, few share two)."""
    budget = TEXT_CANDIDATES if budget is None else budget
    words = [lexeme.lexeme for lexeme in lexemes]
    if any(lexeme.share is None for lexeme in lexemes):
        return _pairs(words) if least >= 2 else [[word] for word in words]
    share = {x.lexeme: x.share or 0.0 for x in lexemes}
    rare = sorted(words, key=lambda word: (share[word], word))
    alone, expected = 0, 0.0
    while alone < len(rare) and (expected + share[rare[alone]]) * residents <= budget / 2:
        expected += share[rare[alone]]
        alone += 1
    paired: list[str] = []
    both = 0.0
    for word in rare[alone : alone + MAX_PAIRED_LEXEMES]:
        more = share[word] * sum(share[w] for w in paired)
        # Past the budget, unless that would leave no candidate at all.
        if (both + more) * residents > budget / 2 and (alone or len(paired) >= 2):
            break
        paired.append(word)
        both += more
    return [[word] for word in rare[:alone]] + _pairs(paired)


def least_lexemes(floor: float, settings: OrdersSettings, lexemes: int) -> int:
    """How many of the order's `lexemes` a resident sharing none of its tags must have to
    score `floor`: its text score must reach `floor / w_text`, so its rank
    `half_rank * f / (1 - f)`; and its rank is at most `RANK_WEIGHT` times the share of the
    query's lexemes it has (more than `lexemes`: none can)."""
    reach = floor / settings.match_weight_text
    if reach >= RANK_WEIGHT / (RANK_WEIGHT + settings.match_text_half_rank):
        return lexemes + 1
    rank = settings.match_text_half_rank * reach / (1 - reach)
    return max(1, math.ceil(rank * lexemes / RANK_WEIGHT - 1e-9))


def _pairs(words: list[str]) -> list[list[str]]:
    return [list(pair) for pair in itertools.combinations(words, 2)]


def _tsquery(words: list[str], operator: str) -> str:
    """A tsquery of exactly these lexemes (tsquery input syntax, no parsing)."""
    return f" {operator} ".join(
        "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in words
    )


async def match_residents(
    session: AsyncSession, *, tags: list[str], text: str, settings: OrdersSettings
) -> list[Match]:
    tags = sorted({t.lower() for t in tags})
    lexemes, residents = await _order_lexemes(session, text)
    query = " | ".join(lexeme.quoted for lexeme in lexemes)
    limit = settings.match_max_residents
    params: dict[str, Any] = {
        "query": query,
        "tags": tags,
        "ntags": float(max(len(tags), 1)),
        "w_tags": settings.match_weight_tags,
        "w_text": settings.match_weight_text,
        "min_score": settings.match_min_score,
        "half_rank": settings.match_text_half_rank,
        # The largest text score: rank / (rank + half_rank) with rank at most RANK_WEIGHT.
        "text_max": RANK_WEIGHT / (RANK_WEIGHT + settings.match_text_half_rank),
        "limit": limit,
    }
    rows = list(await _rank_tagged(session, params)) if tags else []
    # Residents without a matching tag score at most `w_text * text_max`: they are looked
    # at only while the list has room or its lowest score is below that.
    if query and (len(rows) < limit or rows[-1].score <= params["w_text"] * params["text_max"]):
        floor = rows[-1].score if len(rows) >= limit else settings.match_min_score
        least = least_lexemes(floor, settings, len(lexemes))
        if least <= len(lexemes):
            alternatives = text_candidates(lexemes, least, residents)
            rows += await _rank_text_only(session, {**params, "floor": floor}, alternatives)
            rows.sort(key=lambda row: (-row.score, row.resident_id))
            del rows[limit:]
    terms = await _matched_terms(session, [row.resident_id for row in rows], text)
    w_tags, w_text = settings.match_weight_tags, settings.match_weight_text
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


# The text query (NULL for an order without lexemes), and a resident's scores from the
# number `k` of the order's tags it shares and its text rank, in double precision.
_QUERY = (
    "q AS MATERIALIZED"
    " (SELECT CASE WHEN :query = '' THEN NULL ELSE to_tsquery('simple', :query) END AS q)"
)
_WEIGHTS = "CAST('{" + ", ".join([str(RANK_WEIGHT)] * 4) + "}' AS real[])"
_RANK = f"CAST(CASE WHEN q.q IS NULL THEN 0 ELSE ts_rank({_WEIGHTS}, r.search, q.q) END AS float8)"
_W_TAGS, _W_TEXT = "CAST(:w_tags AS float8)", "CAST(:w_text AS float8)"
_TAG_SCORE = "k / CAST(:ntags AS float8)"
_TEXT_SCORE = "rank / (rank + CAST(:half_rank AS float8))"
_SCORES = f"""
    {_TAG_SCORE} AS tag_score, {_TEXT_SCORE} AS text_score,
    {_W_TAGS} * {_TAG_SCORE} + {_W_TEXT} * {_TEXT_SCORE} AS score
"""


async def _rank_tagged(session: AsyncSession, params: dict[str, Any]) -> list[sa.Row[Any]]:
    """The best `limit` residents sharing at least one of the order's tags, by score.

    Residents sharing several of the order's tags are usually few, and the tags index finds
    them without reading the others: when they fill the list and a resident sharing fewer
    tags could not reach its lowest score even with the largest text score, the list is
    final. Otherwise every resident sharing a tag is considered."""
    tags: list[str] = params["tags"]
    level = _narrow_level(len(tags))
    if level is not None:
        rows = await _rank_sharing(session, params, level)
        fewer = params["w_tags"] * (level - 1) / params["ntags"]
        fewer += params["w_text"] * params["text_max"]
        if len(rows) >= params["limit"] and fewer < rows[-1].score:
            return rows
    return await _rank_sharing(session, params, 1)


def _narrow_level(ntags: int) -> int | None:
    """The least number of tags, at least two, whose combinations of the order's tags are
    few enough to look each up in the tags index (None: there is none)."""
    for level in range(2, ntags + 1):
        if math.comb(ntags, level) <= MAX_TAG_COMBINATIONS:
            return level
    return None


async def _rank_sharing(
    session: AsyncSession, params: dict[str, Any], level: int
) -> list[sa.Row[Any]]:
    """The best `limit` residents sharing at least `level` of the order's tags, by score.

    Every one sharing as many tags as the `limit`-th one by tags alone is ranked for text
    (`first`); one sharing fewer is ranked (`second`) only if its tag score plus the largest
    text score, `w_text`, reaches the `limit`-th score of `first`. Whoever is left out
    scores below `limit` residents of `first`: it could not have entered the list."""
    tags: list[str] = params["tags"]
    by_tag = {f"tag_{i}": tag for i, tag in enumerate(tags)}
    shared = " + ".join(
        f"CAST(r.tags @> ARRAY[CAST(:{name} AS varchar)] AS int)" for name in by_tag
    )
    if level <= 1:
        where = "r.tags && CAST(:tags AS varchar[])"
    else:
        where = " OR ".join(
            "r.tags @> CAST(ARRAY[" + ", ".join(f":{name}" for name in names) + "] AS varchar[])"
            for names in itertools.combinations(by_tag, level)
        )
    sql = sa.text(
        f"""
        WITH {_QUERY},
        tagged AS MATERIALIZED (
            SELECT r.ctid AS tid, r.resident_id, {shared} AS k
            FROM known_residents r
            WHERE NOT r."left" AND ({where})
        ),
        cut AS (
            SELECT coalesce(min(k), 0) AS k
            FROM (SELECT k FROM tagged ORDER BY k DESC LIMIT :limit) s
        ),
        first AS MATERIALIZED (
            SELECT t.tid, t.resident_id, t.k, {_RANK} AS rank
            FROM tagged t JOIN known_residents r ON r.ctid = t.tid, q
            WHERE t.k >= (SELECT k FROM cut)
        ),
        bar AS (
            SELECT {_W_TAGS} * {_TAG_SCORE} + {_W_TEXT} * {_TEXT_SCORE} AS score
            FROM first ORDER BY score DESC LIMIT 1 OFFSET :limit - 1
        ),
        second AS MATERIALIZED (
            SELECT t.tid, t.resident_id, t.k, {_RANK} AS rank
            FROM tagged t JOIN known_residents r ON r.ctid = t.tid, q
            WHERE t.k < (SELECT k FROM cut)
              AND {_W_TAGS} * t.k / CAST(:ntags AS float8)
                  + {_W_TEXT} * CAST(:text_max AS float8) >= (SELECT score FROM bar)
        ),
        top AS (
            SELECT *
            FROM (
                SELECT tid, resident_id, {_SCORES}
                FROM (SELECT * FROM first UNION ALL SELECT * FROM second) s
            ) s
            WHERE score >= CAST(:min_score AS float8)
            ORDER BY score DESC, resident_id
            LIMIT :limit
        )
        SELECT r.resident_id, r.park_id, r.name,
               ARRAY(SELECT unnest(r.tags) INTERSECT SELECT unnest(CAST(:tags AS varchar[])))
                 AS matched_tags,
               top.tag_score, top.text_score, top.score
        FROM top JOIN known_residents r ON r.ctid = top.tid
        ORDER BY top.score DESC, top.resident_id
        """
    )
    return list((await session.execute(sql, {**params, **by_tag})).all())


async def _rank_text_only(
    session: AsyncSession, params: dict[str, Any], alternatives: list[list[str]]
) -> list[sa.Row[Any]]:
    """The best `limit` residents sharing none of the order's tags and scoring at least
    `floor`, among those whose text has all the lexemes of one of the `alternatives`."""
    alone = [words[0] for words in alternatives if len(words) == 1]  # one index scan
    queries = [_tsquery(alone, "|")] if alone else []
    queries += [_tsquery(words, "&") for words in alternatives if len(words) > 1]
    by_query = {f"text_{i}": query for i, query in enumerate(queries)}
    matching = " OR ".join(f"r.search @@ CAST(:{name} AS tsquery)" for name in by_query)
    sql = sa.text(
        f"""
        WITH {_QUERY}
        SELECT resident_id, park_id, name, ARRAY[]::varchar[] AS matched_tags, {_SCORES}
        FROM (
            SELECT r.resident_id, r.park_id, r.name, 0 AS k, {_RANK} AS rank
            FROM known_residents r, q
            WHERE NOT r."left" AND ({matching})
              AND NOT (r.tags && CAST(:tags AS varchar[]))
            OFFSET 0
        ) s
        WHERE {_W_TEXT} * {_TEXT_SCORE} >= CAST(:floor AS float8)
        ORDER BY score DESC, resident_id
        LIMIT :limit
        """
    )
    return list((await session.execute(sql, {**params, **by_query})).all())


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
