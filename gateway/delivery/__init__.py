"""Delivery to national systems: one isolated worker per member, with retries, a circuit breaker and a rate limit.

``worker.py`` decides what to do with one record; ``lanes.py`` which record comes next (the priority lane
first, without starving the others); ``loop.py`` runs the Kafka side (consume, pause, commit); ``service.py``
starts one of each per member and lists the topics they need. Nothing here imports ``gateway.transport``.
"""
