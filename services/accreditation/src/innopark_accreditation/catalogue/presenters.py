"""Catalogue versions as the API shows them: criteria grouped under their headings."""

from __future__ import annotations

from ..models import Criterion
from .schemas import CatalogueRead, CatalogueStatus, CriterionRead, HeadingRead
from .service import Catalogue


def present_criterion(c: Criterion) -> CriterionRead:
    return CriterionRead(
        id=c.id,
        code=c.code,
        title=c.title,
        description=c.description,
        weight=c.weight,
        scale_min=c.scale_min,
        scale_max=c.scale_max,
        mandatory=c.mandatory,
        pass_score=c.pass_score,
    )


def present_catalogue(catalogue: Catalogue) -> CatalogueRead:
    headings: dict[str, list[CriterionRead]] = {}
    for c in catalogue.criteria:
        headings.setdefault(c.heading, []).append(present_criterion(c))
    v = catalogue.version
    return CatalogueRead(
        id=v.id,
        number=v.number,
        title=v.title,
        description=v.description,
        status=CatalogueStatus(v.status),
        levels=v.levels,
        published_at=v.published_at,
        created_at=v.created_at,
        headings=[HeadingRead(title=t, criteria=cs) for t, cs in headings.items()],
    )
