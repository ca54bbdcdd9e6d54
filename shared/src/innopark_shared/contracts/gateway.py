"""Events the gateway publishes: the user lifecycle and token revocations.

User events carry the role, binding and state of an account, never a secret or a
password hash. `TokensRevokedV1` tells every service that tokens of a subject (a user, an
API client or an API key) with a version below `min_version` are no longer valid, so a
service that verifies tokens itself refuses them as the gateway does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from .base import IntegrationEvent

USERS_TOPIC = "innopark.gateway.users"
CREDENTIALS_TOPIC = "innopark.gateway.credentials"


class UserCreatedV1(IntegrationEvent):
    event_type = "org.innopark.gateway.user.created.v1"
    topic = USERS_TOPIC
    key_field = "user_id"

    user_id: UUID
    role: str
    is_active: bool
    park_id: UUID | None = None
    resident_id: UUID | None = None
    partner_id: UUID | None = None
    name: str | None = None
    occurred_at: datetime


class UserUpdatedV1(UserCreatedV1):
    """The account's full state after a change (role, binding, name, enabled or not)."""

    event_type = "org.innopark.gateway.user.updated.v1"


class UserDeletedV1(IntegrationEvent):
    event_type = "org.innopark.gateway.user.deleted.v1"
    topic = USERS_TOPIC
    key_field = "user_id"

    user_id: UUID
    occurred_at: datetime


class TokensRevokedV1(IntegrationEvent):
    """Tokens of `subject` whose `ver` claim is below `min_version` are revoked."""

    event_type = "org.innopark.gateway.tokens.revoked.v1"
    topic = CREDENTIALS_TOPIC
    key_field = "subject"

    subject: str
    subject_kind: Literal["user", "client", "key"]
    min_version: int
    reason: str
    occurred_at: datetime
