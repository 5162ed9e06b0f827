"""House rules that keep the code base readable: module docstrings, sorted ``__all__``, no adapter in the core."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import adapters
import gateway

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    info.name for pkg in (gateway, adapters)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}.")
    if not info.name.endswith("__main__")
)


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022 order; plain order passes too)."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


class TestModules:
    @pytest.mark.parametrize("name", MODULES)
    def test_module_has_a_docstring_and_sorted_all(self, name: str) -> None:
        """Every module says what it is for, and a public module's ``__all__`` is sorted and importable."""
        module = importlib.import_module(name)
        assert (module.__doc__ or "").strip(), f"{name} has no docstring"
        exported = getattr(module, "__all__", None)
        if exported is not None:
            assert list(exported) in (sorted(exported), sorted(exported, key=_isort_key)), f"{name}.__all__ is not sorted"
            assert all(hasattr(module, n) for n in exported), f"{name}.__all__ names something missing"

    def test_core_never_imports_an_adapter(self) -> None:
        """No module under gateway/ imports the adapters package: adapters are plugins."""
        offenders = []
        for path in (ROOT / "gateway").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "adapters"]
        assert offenders == []

    def test_delivery_never_imports_transport(self) -> None:
        """gateway/delivery/ does not import gateway/transport/ (the deliver command creates the topics): no cycle."""
        offenders = []
        for path in (ROOT / "gateway" / "delivery").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("gateway.transport")]
        assert offenders == []

    def test_adapters_use_only_the_adapter_api_of_the_core(self) -> None:
        """Adapter modules (simulators and test kits aside) import nothing from gateway but gateway.sdk."""
        offenders = []
        for path in (ROOT / "adapters").rglob("*.py"):
            if "simulator" in path.parts or path.name in ("simulate.py", "responder.py") or "simulator" in path.name:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gateway"):
                    if node.module.split(".")[:2] != ["gateway", "sdk"]:
                        offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
        assert offenders == []
