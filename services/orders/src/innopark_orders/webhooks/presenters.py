"""Webhook endpoints and deliveries as the API shows them (the secret only once)."""

from __future__ import annotations

from ..models import PartnerEvent, WebhookDelivery, WebhookEndpoint
from .schemas import (
    FeedDeliveryRead,
    PartnerEventRead,
    WebhookAttemptRead,
    WebhookDeliveryRead,
    WebhookEndpointCreated,
    WebhookEndpointRead,
)


def present_endpoint(endpoint: WebhookEndpoint) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(endpoint)


def present_created_endpoint(endpoint: WebhookEndpoint) -> WebhookEndpointCreated:
    """The answer to the registration: the only one that shows the signing secret."""
    return WebhookEndpointCreated.model_validate(endpoint)


def present_delivery(delivery: WebhookDelivery) -> WebhookDeliveryRead:
    return WebhookDeliveryRead(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        succeeded_at=delivery.succeeded_at,
        attempt_log=[WebhookAttemptRead.model_validate(a) for a in delivery.attempt_log],
        payload=delivery.payload,
    )


def present_partner_event(
    event: PartnerEvent, deliveries: list[WebhookDelivery]
) -> PartnerEventRead:
    return PartnerEventRead(
        message_id=event.message_id,
        type=event.event_type,
        created_at=event.created_at,
        payload=event.payload,
        deliveries=[
            FeedDeliveryRead(
                delivery_id=d.id,
                endpoint_id=d.endpoint_id,
                status=d.status,
                attempts=d.attempts,
                succeeded_at=d.succeeded_at,
            )
            for d in deliveries
        ],
    )
