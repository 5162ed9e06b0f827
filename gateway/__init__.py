"""OCO gateway: WCO Data Model declarations over Kafka, validated, routed to members and answered."""

__version__ = "0.1.0"
