"""Delivery to national systems: one isolated worker per member, with retries, a circuit breaker and a rate limit.

``worker.py`` decides what to do with one record; ``gateway/transport/delivery_loop.py`` runs the Kafka side
(consume, pause, commit); ``service.py`` starts one of each per member.
"""
