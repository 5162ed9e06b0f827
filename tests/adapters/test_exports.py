"""House rules of the wco-xml and kafka adapter packages: sorted exports, docstrings, narrow gateway imports."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import adapters.kafka_topic
import adapters.wco_xml

_PACKAGES = (adapters.wco_xml, adapters.kafka_topic)
# Simulators and the reference responder stand in for national systems: they may use the whole gateway.
_STAND_INS = ("adapters.wco_xml.simulator", "adapters.kafka_topic.responder")


def _modules() -> list[str]:
    names = []
    for package in _PACKAGES:
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return sorted(names)


def _gateway_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gateway":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "gateway"}
    return found


@pytest.mark.parametrize("name", _modules())
class TestModuleRules:
    def test_public_module_has_sorted_complete_all(self, name: str) -> None:
        """Every public module lists a sorted __all__ whose names all exist."""
        if any(part.startswith("_") and part != "__main__" for part in name.split(".")):
            return  # private modules export nothing by contract
        module = importlib.import_module(name)
        exported = list(module.__all__)
        assert exported == sorted(exported), f"{name}.__all__ is not sorted"
        assert not [n for n in exported if not hasattr(module, n)]

    def test_module_has_a_one_line_docstring(self, name: str) -> None:
        """Every module opens with a one-line summary docstring."""
        doc = importlib.import_module(name).__doc__ or ""
        assert doc.strip() and doc.strip().splitlines()[0].strip().endswith((".", ":"))

    def test_adapter_code_imports_only_the_adapter_api(self, name: str) -> None:
        """Adapter modules import nothing from the gateway but gateway.sdk (stand-ins excepted)."""
        if name.startswith(_STAND_INS):
            return
        path = Path(importlib.import_module(name).__file__ or "")
        assert {m for m in _gateway_imports(path) if m.split(".")[:2] != ["gateway", "sdk"]} == set()
