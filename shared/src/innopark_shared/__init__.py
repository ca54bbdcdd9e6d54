"""Innopark's common library: what every service and the gateway share.

Settings, database sessions, the transactional outbox and its relay, the consumer
runner, event contracts, problem details, authentication and health checks.
"""
