"""What orders publishes, and the events it subscribes to (listed in one place)."""

from __future__ import annotations

from innopark_shared.consumer import Subscriptions
from innopark_shared.readmodels.parks import subscribe_known_parks

from .models import known_parks

PUBLISHES: list[str] = []

subscriptions = Subscriptions()
# Park created / updated / removed keep the local copy of the registry's parks.
subscribe_known_parks(subscriptions, known_parks)
