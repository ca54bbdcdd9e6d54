"""Kafka TLS and SASL settings reach every client a service builds: producer, consumer,
admin, the broker-memory reader and the readiness probe."""

from __future__ import annotations

import ssl

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from innopark_shared.kafka import client_options, make_consumer, make_producer
from innopark_shared.settings import ServiceSettings
from innopark_shared.web import BrokerProbe

SECURED = {
    "database_url": "postgresql://x@127.0.0.1:1/x",
    "kafka_bootstrap_servers": "kafka.example:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "innopark-registry",
    "kafka_sasl_password": "s3cret",
}


async def test_every_client_gets_tls_and_sasl() -> None:
    settings = ServiceSettings(**SECURED)
    producer = make_producer(settings)
    consumer = make_consumer(settings, ["innopark.registry.parks"])
    admin = AIOKafkaAdminClient(**client_options(settings))
    probe = BrokerProbe(settings)
    clients = [producer.client, consumer._client, admin._client, probe._client]
    for client in clients:
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "innopark-registry"
        assert client._sasl_plain_password == "s3cret"
        assert isinstance(client._ssl_context, ssl.SSLContext)
        assert client._ssl_context.verify_mode == ssl.CERT_REQUIRED
    await probe.close()
    await admin.close()


def test_plaintext_by_default_and_sasl_needs_credentials() -> None:
    plain = client_options(ServiceSettings(database_url="postgresql://x@127.0.0.1:1/x"))
    assert plain == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}
    # A SASL protocol without its credentials fails at start, naming them.
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        ServiceSettings(**{**SECURED, "kafka_sasl_password": None})
    with pytest.raises(ValueError):
        ServiceSettings(database_url="postgresql://x@127.0.0.1:1/x", kafka_security_protocol="TLS")
