"""Operations helpers: running the local Kafka broker the gateway develops and tests against."""
