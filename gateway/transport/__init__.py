"""Kafka transport: the FastStream app, the batch handler and topic administration (aiokafka lives here)."""
