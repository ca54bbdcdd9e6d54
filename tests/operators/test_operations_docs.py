"""The operator's documents agree with the code: the configuration reference is what the
settings classes say today, the guide names only settings that exist, and the Grafana
dashboard only metrics the platform exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from innopark_shared.configdoc import PARTS, render, settings_class
from innopark_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "shared" / "src", ROOT / "gateway" / "src", *ROOT.glob("services/*/src")]


def test_configuration_reference_is_up_to_date() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text()
    assert written == render(), (
        "docs/configuration.md is stale: python -m innopark_shared.configdoc > "
        "docs/configuration.md"
    )


def test_the_guide_names_only_settings_that_exist() -> None:
    known = {name.upper() for name in ServiceSettings.model_fields}
    for part in PARTS:
        known |= {name.upper() for name in settings_class(part).model_fields}
    guide = (ROOT / "docs" / "operations.md").read_text()
    prefixes = ("KAFKA_", "OTEL_EXPORTER", "RATE_LIMIT_", "LOG_", "OUTBOX_", "CONSUMER_")
    named = {
        word
        for word in re.findall(r"`([A-Z][A-Z0-9_]+)", guide)
        if word.startswith(prefixes) or word in ("METRICS_PORT", "ACCESS_TOKEN_TTL_SECONDS")
    }
    assert named, "the guide names settings"
    assert named <= known, named - known


def _exported_metric_names() -> set[str]:
    names = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            names |= set(re.findall(r'"(innopark_[a-z_]+)"', path.read_text()))
    return names


def test_the_dashboard_shows_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "innopark.json").read_text())
    exported = _exported_metric_names()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(innopark_[a-z_]+)", target["expr"]))
    assert used
    for name in used:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, f"the dashboard queries {name}, which nothing exports"
    # What an operator pages on is on it.
    for needed in (
        "innopark_outbox_backlog",
        "innopark_outbox_oldest_unpublished_age_seconds",
        "innopark_dead_letters",
        "innopark_webhook_deliveries_total",
        "innopark_gateway_upstream_requests_total",
    ):
        assert needed in used
