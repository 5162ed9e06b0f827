"""The adapter template builds as its own package, installs, registers with the gateway and passes its contract.

What is proven, and how: the template's wheel is built from its own ``pyproject.toml`` by pip and hatchling
(the project venv's hatchling when installed, else an isolated build fetching it from PyPI); the wheel is
installed with ``pip install --target`` into a temporary folder, never into the project venv (whose
catalog other tests check). Subprocesses then run with that folder on ``PYTHONPATH`` and ``python -P`` (the
template's source folder is not importable), so the gateway finds the adapter through the installed
entry-point metadata, and the template's own contract tests run against the installed copy. Not proven:
resolving ``oco-gateway`` as a dependency (it is not on PyPI; ``--no-deps`` is used and the project venv
provides it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "adapter-template"


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def template_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the template's wheel with pip (no dependencies resolved) and return its path."""
    out = tmp_path_factory.mktemp("template-dist")
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(out), str(TEMPLATE)])
    if done.returncode != 0:
        pytest.fail(f"building the template's wheel failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    (wheel,) = out.glob("oco_adapter_example-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed_env(template_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Install the wheel into a temporary --target folder; return an environment that has it on the path."""
    target = tmp_path_factory.mktemp("template-site")
    done = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
                 str(template_wheel)])
    if done.returncode != 0:
        pytest.fail(f"installing the template's wheel failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # PYTHONSAFEPATH: children (the simulator process) do not import the template's source folder either.
    return {**env, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONSAFEPATH": "1"}


@pytest.mark.slow
class TestAdapterTemplate:
    def test_wheel_declares_the_adapter_entry_point(self, template_wheel: Path) -> None:
        """The built wheel holds the package and declares its adapter and its simulator as entry points."""
        with zipfile.ZipFile(template_wheel) as wheel:
            names = wheel.namelist()
            (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
            declared = wheel.read(entry_points).decode()
        assert {"oco_adapter_example/adapter.py", "oco_adapter_example/simulator.py"} <= set(names)
        assert "[oco_gateway.adapters]\nexample = oco_adapter_example:ExampleAdapter" in declared
        assert "[oco_gateway.simulators]\nexample = oco_adapter_example.simulator:example" in declared

    def test_gateway_finds_the_installed_adapter(self, installed_env: dict[str, str]) -> None:
        """With the package installed, the gateway's catalog of all installed adapters lists "example" from it."""
        script = ("from gateway.plugins import AdapterCatalog; import sys; c = AdapterCatalog(); "
                  "print(' '.join(c.names)); print(sys.modules[c.get('example').__module__].__file__)")
        done = _run([sys.executable, "-P", "-c", script], env=installed_env, cwd=TEMPLATE.parent)
        assert done.returncode == 0, done.stderr
        names, origin = done.stdout.splitlines()
        assert "example" in names.split()
        assert origin.startswith(installed_env["PYTHONPATH"])

    def test_template_contract_suite_passes(self, installed_env: dict[str, str]) -> None:
        """The template's own tests (the full adapter contract over real HTTP) pass against the installed copy."""
        done = _run([sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=TEMPLATE,
                    env=installed_env)
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert " passed" in summary and not any(word in summary for word in ("skipped", "failed", "error"))
