"""The Pacific Trusted Trader Network: signed AEO status events, the regional registry, mutual recognition.

    status.py       a trader's status event (what a member certifies), its canonical form and views
    document.py     the event as WCO-style XML (schemas/oco/WCO_AEO_1_OCO.xsd) and back
    signing.py      Ed25519 keys of the administrations, the trust store, verification
    registry.py     the regional registry: every trader's latest verified status, in memory
    recognition.py  which member recognises which programmes (the MRA configuration)
    intake.py       one event from the wire to a verdict: parse, identify, validate, read, verify, apply
    feed.py         Kafka: build the registry from oco.aeo.* and keep it current; publish issued events
    issuing.py      what an administration does: issue, suspend, revoke, reinstate, bulk load
    exchange.py     the signed daily snapshot file for MRA partners (CSV or XML), export and import
    national.py     a member's existing national AEO list (CSV), read for a bulk start

The package depends on the pipeline's parsing stages and on the profiles, never on transport or delivery.
"""
