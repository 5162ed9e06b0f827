"""The gateway's Kafka contract: an AsyncAPI 3 document generated from the code, its export and its viewer."""
