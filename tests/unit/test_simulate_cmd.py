"""``oco-gateway simulate``: simulators come from the ``oco_gateway.simulators`` entry points, loaded when named."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import click
import pytest
from click.testing import CliRunner

from gateway.cli import main, simulate_cmd
from gateway.plugins import SIMULATOR_GROUP


@click.command("toy")
@click.option("--member", required=True)
def toy(member: str) -> None:
    """A toy national system."""
    click.echo(f"toy simulator of {member}")


def _entries(*pairs: tuple[str, str]) -> list[EntryPoint]:
    return [EntryPoint(name, value, SIMULATOR_GROUP) for name, value in pairs]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    monkeypatch.setattr(simulate_cmd, "entry_points", lambda group: [e for e in found if e.group == group])
    return found


def test_the_built_in_simulators_are_entry_points() -> None:
    """asycuda and wco register exactly as a plugin's simulator would."""
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    assert "asycuda" in result.output and "wco" in result.output


def test_a_plugin_simulator_runs_under_its_name(installed: list[EntryPoint]) -> None:
    installed += _entries(("toy", f"{__name__}:toy"))
    result = CliRunner().invoke(main, ["simulate", "toy", "--member", "VU"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "toy simulator of VU"
    assert "toy" in CliRunner().invoke(main, ["simulate", "--help"]).output


def test_a_broken_plugin_is_named_and_the_others_still_run(installed: list[EntryPoint]) -> None:
    installed += _entries(("gone", "no_such_package.sim:gone"), ("toy", f"{__name__}:toy"))
    broken = CliRunner().invoke(main, ["simulate", "gone", "--member", "VU"])
    assert broken.exit_code != 0
    assert "simulator 'gone' (no_such_package.sim:gone) cannot be loaded" in broken.output
    assert CliRunner().invoke(main, ["simulate", "toy", "--member", "VU"]).exit_code == 0


def test_an_entry_that_is_not_a_command_is_refused(installed: list[EntryPoint]) -> None:
    installed += _entries(("odd", f"{__name__}:_entries"))
    result = CliRunner().invoke(main, ["simulate", "odd"])
    assert result.exit_code != 0 and "is not a click command" in result.output


def test_a_name_claimed_twice_is_refused_naming_both(installed: list[EntryPoint]) -> None:
    installed += _entries(("toy", f"{__name__}:toy"), ("toy", "other_package.sim:toy"))
    result = CliRunner().invoke(main, ["simulate", "toy", "--member", "VU"])
    assert result.exit_code != 0
    assert "claimed twice" in result.output and "other_package.sim:toy" in result.output


def test_an_unknown_simulator_lists_none_it_does_not_have() -> None:
    result = CliRunner().invoke(main, ["simulate", "nope"])
    assert result.exit_code != 0 and "No such command 'nope'" in result.output
