"""Example national connector for the OCO gateway: copy this package to start your own."""

from __future__ import annotations

from oco_adapter_example.adapter import ExampleAdapter

__all__ = ["ExampleAdapter"]
