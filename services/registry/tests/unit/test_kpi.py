"""KPI reports and the association-wide figures in-process: one report per park and
period (refiling replaces it), who files, and how /stats adds up stocks and flows."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from innopark_registry.kpi import queries
from innopark_registry.kpi import service as kpi
from innopark_registry.kpi.presenters import present_stats
from innopark_registry.kpi.schemas import KpiReportCreate, StatsGroupBy
from innopark_registry.parks import service as parks
from innopark_shared.errors import Forbidden, NotFound

from .conftest import OPERATOR, manager_of, region


def report(year, quarter=None, **figures) -> KpiReportCreate:
    body = {
        "year": year,
        "quarter": quarter,
        "residents": 0,
        "jobs": 0,
        "resident_revenue": 0,
        "taxes_paid": 0,
        "investments_attracted": 0,
        "area_occupied": 0,
    }
    body.update(figures)
    return KpiReportCreate.model_validate(body)


async def file(db_session, park, data, principal=OPERATOR):
    return await kpi.file_kpi_report(
        session=db_session, principal=principal, park_id=park.id, data=data
    )


async def totals(db_session, where, **params):
    args = {"year_from": None, "year_to": None, "quarter": None, "kind": None, "group_by": None}
    args.update(params)
    return await queries.stats(session=db_session, region=where, **args)


async def test_refiling_a_period_replaces_its_report(db_session, outbox, new_park):
    park = await new_park()
    first = await file(db_session, park, report(2015, 3, jobs=7500, resident_revenue="1000.50"))
    assert first.created and first.report.version == 1
    again = await file(db_session, park, report(2015, 3, jobs=7400, resident_revenue="1000.50"))
    assert not again.created
    assert (again.report.id, again.report.jobs, again.report.version) == (first.report.id, 7400, 2)
    annual = await file(db_session, park, report(2015, jobs=7000))  # a year is its own period
    assert annual.created and annual.report.id != first.report.id

    filed = await outbox.events("kpi_report.filed")
    assert [(e.key, e.data["quarter"], e.data["jobs"]) for e in filed] == [
        (str(park.id), 3, 7500),
        (str(park.id), 3, 7400),
        (str(park.id), None, 7000),
    ]
    assert filed[0].data["resident_revenue"] == 1000.5


async def test_the_association_or_the_parks_manager_files(db_session, new_park):
    park, other = await new_park(), await new_park()
    assert (await file(db_session, park, report(2020), manager_of(park.id))).created
    with pytest.raises(Forbidden):
        await file(db_session, other, report(2020), manager_of(park.id))
    with pytest.raises(Forbidden):
        await queries.list_kpi_reports(
            session=db_session,
            principal=manager_of(park.id),
            park_id=other.id,
            limit=5,
            cursor=None,
        )
    await parks.remove_park(session=db_session, park_id=other.id, if_match=None)
    with pytest.raises(NotFound):
        await file(db_session, other, report(2020))


async def test_reports_list_latest_period_first(db_session, new_park):
    park = await new_park()
    for year, quarter in [(2014, 2), (2015, None), (2015, 4), (2014, None), (2015, 1)]:
        await file(db_session, park, report(year, quarter))
    periods, cursor = [], None
    while True:
        page = await queries.list_kpi_reports(
            session=db_session, principal=OPERATOR, park_id=park.id, limit=2, cursor=cursor
        )
        periods += [(r.year, r.quarter) for r in page.items]
        if (cursor := page.next_cursor) is None:
            break
    # Within a year the annual report sorts after the fourth quarter.
    assert periods == [(2015, None), (2015, 4), (2015, 1), (2014, None), (2014, 2)]


async def test_stocks_come_from_the_latest_report_and_flows_add_up(db_session, new_park):
    where = region()
    a = await new_park(region=where)
    b = await new_park(region=where, kind="technopolis")
    empty = await totals(db_session, where, year_from=2015, year_to=2015)
    assert (empty.totals.parks_reporting, empty.totals.jobs) == (0, 0)
    assert empty.totals.resident_revenue == Decimal(0)

    await file(
        db_session,
        a,
        report(2015, 3, residents=500, jobs=12000, area_occupied=300000, resident_revenue="30.00"),
    )
    await file(
        db_session,
        a,
        report(2015, 4, residents=510, jobs=12100, area_occupied=300000, resident_revenue="100"),
    )
    await file(db_session, b, report(2015, 3, residents=340, jobs=7400, resident_revenue="0.50"))

    year = (await totals(db_session, where, year_from=2015, year_to=2015)).totals
    assert (year.parks_reporting, year.residents, year.jobs) == (2, 850, 19500)  # a's Q4 + b's Q3
    assert year.area_occupied == Decimal("300000.00")
    assert year.resident_revenue == Decimal("130.50")  # every quarter's revenue
    q3 = (await totals(db_session, where, year_from=2015, year_to=2015, quarter=3)).totals
    assert (q3.jobs, q3.resident_revenue) == (19400, Decimal("30.50"))
    assert (await totals(db_session, where, year_from=2016)).totals.parks_reporting == 0

    by_kind = await totals(
        db_session, where, year_from=2015, year_to=2015, group_by=StatsGroupBy.KIND
    )
    assert {g.key: g.jobs for g in by_kind.groups} == {"technopark": 12100, "technopolis": 7400}
    shown = present_stats(by_kind)
    assert shown.region == where and shown.totals.jobs == 19500
    assert [g.key for g in shown.groups] == ["technopark", "technopolis"]


async def test_an_annual_report_stands_in_for_the_quarters(db_session, new_park):
    where = region()
    park = await new_park(region=where)
    await file(db_session, park, report(2016, 1, jobs=100, taxes_paid="10"))
    await file(db_session, park, report(2016, 2, jobs=110, taxes_paid="10"))
    before = (await totals(db_session, where, year_from=2016, year_to=2016)).totals
    assert (before.jobs, before.taxes_paid) == (110, Decimal("20.00"))

    await file(db_session, park, report(2016, jobs=120, taxes_paid="45"))
    year = (await totals(db_session, where, year_from=2016, year_to=2016)).totals
    assert (year.parks_reporting, year.jobs, year.taxes_paid) == (1, 120, Decimal("45.00"))
    # Asking for one quarter still reads that quarter's report.
    assert (await totals(db_session, where, quarter=2)).totals.jobs == 110


async def test_figures_by_year_and_region_leave_removed_parks_out(db_session, new_park):
    where = region()
    kept = await new_park(region=where)
    gone = await new_park(region=where)
    await file(db_session, kept, report(2017, jobs=10, investments_attracted="5"))
    await file(db_session, kept, report(2018, jobs=20, investments_attracted="7"))
    await file(db_session, gone, report(2018, jobs=1000, investments_attracted="1000"))
    await parks.remove_park(session=db_session, park_id=gone.id, if_match=None)

    by_year = await totals(db_session, where, group_by=StatsGroupBy.YEAR)
    assert [(g.key, g.jobs, g.investments_attracted) for g in by_year.groups] == [
        ("2017", 10, Decimal("5.00")),
        ("2018", 20, Decimal("7.00")),
    ]
    # Over both years: the latest stock, the summed flow.
    assert (by_year.totals.jobs, by_year.totals.investments_attracted) == (20, Decimal("12.00"))
    by_region = await totals(db_session, where, group_by=StatsGroupBy.REGION)
    assert [(g.key, g.parks_reporting) for g in by_region.groups] == [(where, 1)]
    elsewhere = await totals(db_session, f"Nowhere {uuid.uuid4().hex[:6]}")
    assert elsewhere.totals.parks_reporting == 0 and elsewhere.groups is None


def test_a_report_is_validated_naming_its_fields():
    with pytest.raises(ValueError) as refused:
        report(2015, 5, jobs=-1)
    assert {e["loc"][0] for e in refused.value.errors()} == {"quarter", "jobs"}
    assert report(2015).currency == "RUB"
