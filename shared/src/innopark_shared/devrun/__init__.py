"""The dev runner: one command brings up the embedded PostgreSQL and Kafka-protocol broker
(unless given servers), migrates, and supervises every service and the gateway."""
