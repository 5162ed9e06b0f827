"""The adapter kit: everything a national connector imports from the gateway, and nothing else.

=============================  ==================================================================================
``gateway.sdk``                the interface (:class:`Adapter`, :class:`Declaration`, :class:`NationalAnswer`...),
                               the declaration model (:class:`DeclarationModel`: parties, items, taxes), errors,
                               issue codes and pointers (:func:`issue_code`, :func:`national_issue`), settings
                               (:func:`parse_settings`)
``gateway.sdk.simkit``         the simulator kit: the ``/control`` API (down, delay, failure rate, reject next,
                               registrations, call log) every simulator shares
``gateway.sdk.simclient``      runs a simulator as a process (``oco-gateway simulate <name>``) and drives its
                               ``/control`` API: the contract suite's ``national`` handle
``gateway.sdk.registry``       the simulators' registration book: registrations and number series in SQLite,
                               replays, the unique-LRN-per-declarant rule
``gateway.sdk.contract``       the contract suite (pytest) every adapter passes against its simulator
``gateway.sdk.testing``        an in-memory fake national system, for tests that need no network
=============================  ==================================================================================

An adapter is a class: subclass :class:`Adapter`, set ``NAME``, implement ``deliver`` and ``aclose``, and
register it under the ``oco_gateway.adapters`` entry-point group. ``docs/adapters.md`` tells the whole story.
"""

from __future__ import annotations

from gateway.errors import AdapterProtocolError, AdapterUnavailable, ConfigError, Issue
from gateway.sdk.interface import (Adapter, Assessment, Declaration, NationalAnswer, Registration, TaxLine,
                                   header_value, idempotency_key)
from gateway.sdk.issues import POINTER, cannot_take, issue_code, national_issue, too_many_items
from gateway.sdk.model import (Address, AeoHolder, Amount, DeclarationModel, DutyTaxLine, GoodsItem, Location,
                               Party, Quantity, Transport)
from gateway.sdk.settings import KafkaClientSecurity, kafka_client_options, parse_settings

__all__ = [
    "POINTER",
    "Adapter",
    "AdapterProtocolError",
    "AdapterUnavailable",
    "Address",
    "AeoHolder",
    "Amount",
    "Assessment",
    "ConfigError",
    "Declaration",
    "DeclarationModel",
    "DutyTaxLine",
    "GoodsItem",
    "Issue",
    "KafkaClientSecurity",
    "Location",
    "NationalAnswer",
    "Party",
    "Quantity",
    "Registration",
    "TaxLine",
    "Transport",
    "cannot_take",
    "header_value",
    "idempotency_key",
    "issue_code",
    "kafka_client_options",
    "national_issue",
    "parse_settings",
    "too_many_items",
]
