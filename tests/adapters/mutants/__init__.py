"""Deliberately broken adapters, run through the contract suite by ``tests/adapters/test_contract_catches.py``."""
