"""Tests UK HMRC's DMS 2.x and 3.x profiles side by side: each participant's declarations get its version's verdict.

Both bundles are the real published XSDs in ``../shared/interop`` (``hmrc-dms`` 3.x with its samples,
``hmrc-dms-v2`` 2.x, XSDs only): the same namespaces and version codes, so only the network configuration
(``profile_versions``) tells which one a participant's documents are checked against. When ``../shared`` is
missing the tests fail, they do not skip.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway import headers as h
from gateway.cli.run_cmd import run as run_command
from gateway.config import GatewaySettings
from gateway.errors import ProfileError
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import SourceRef, Submission
from gateway.pipeline.identify import ProfileSelector, version_plan
from gateway.profiles import ModelReaders, ProfileRegistry
from gateway.responses import read_response

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "interop"
SAMPLES = SHARED / "hmrc-dms" / "samples" / "annotated_XML_samples"
MISSING = f"{SHARED} is missing: clone the shared repository beside main (../shared) to run these tests"
PROFILES = [ROOT / "schemas", ROOT / "tests" / "profiles" / "hmrc-dms", ROOT / "tests" / "profiles" / "hmrc-dms-v2"]
# Valid under both versions; valid under 3.x only (GoodsShipment/Consignment is new in 3.x); a 3.x cancellation.
BOTH = SAMPLES / "TT_IM019a" / "TT_IM019a.xml"
NEWER = SAMPLES / "TT_EX002b" / "TT_EX002b.xml"
CANCEL = SAMPLES / "TT_EX010a" / "TT_EX010a_Cancellation.xml"
CUT_OVER = dt.date(2026, 12, 1)


def profiles_folder(parent: Path) -> Path:
    """Return a folder of profile folders (OCO, HMRC 3.x, HMRC 2.x), as an operator's OCO_PROFILES_DIR."""
    folder = parent / "profiles"
    folder.mkdir()
    for profile in PROFILES:
        (folder / profile.name).symlink_to(profile, target_is_directory=True)
    return folder


def network(**extra: object) -> GatewaySettings:
    """GB's network: gb-legacy still on DMS 2.x, gb-modern on 3.x (the default), gb-moving switching on CUT_OVER."""
    participants = {
        "gb-legacy": {"name": "Legacy", "profile_versions": ["hmrc-dms-v2"]},
        "gb-modern": {"name": "Modern"},
        "gb-moving": {"name": "Moving", "profile_versions": [
            "hmrc-dms-v2", {"profile": "hmrc-dms", "from": CUT_OVER.isoformat()}]},
    }
    return GatewaySettings(**{
        "profile_versions": ["hmrc-dms"],
        "participants": participants,
        "members": {"GB": {"name": "United Kingdom", "submitters": list(participants)}},
        **extra,
    })


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry | None:
    if not SHARED.is_dir():
        return None  # the test itself fails with MISSING
    return ProfileRegistry.load(PROFILES)


def run(pipeline_registry: ProfileRegistry, settings: GatewaySettings, participant: str, path: Path,
        today: dt.date = dt.date(2026, 6, 1)) -> tuple[str, list[str], str | None]:
    """Run one sample through the gateway's stages: (reply status, issue codes, profile header)."""
    stages = build_stages(settings, pipeline_registry)
    assert isinstance(stages[1], ProfileSelector)
    stages[1] = ProfileSelector(pipeline_registry, version_plan(settings, pipeline_registry), today=lambda: today)
    submission = Submission(payload=path.read_bytes(), participant=participant, tracking_id="t",
                            source=SourceRef(f"oco.submit.{participant}", 0, 1))
    outputs, _ = Pipeline(stages)(submission)
    reply = next(o for o in outputs if o.topic == f"oco.reply.{participant}")
    summary = read_response(reply.value)
    return summary.status, [i.code for i in summary.issues], reply.headers.get(h.PROFILE)


class TestHmrcVersionsSideBySide:
    def test_both_bundles_load_as_one_family(self, registry: ProfileRegistry | None) -> None:
        """The 2.x and 3.x bundles load together; nothing in their envelopes tells them apart."""
        assert registry is not None, MISSING
        assert registry.names == ("oco", "hmrc-dms", "hmrc-dms-v2")
        assert registry.families == (("hmrc-dms", "hmrc-dms-v2"),)

    def test_each_participant_gets_the_verdict_of_its_own_version(self, registry: ProfileRegistry | None) -> None:
        """A declaration valid only under 3.x is received from the 3.x participant, rejected from the 2.x one."""
        assert registry is not None, MISSING
        settings = network()
        assert run(registry, settings, "gb-modern", NEWER) == ("received", [], "hmrc-dms")
        status, codes, profile = run(registry, settings, "gb-legacy", NEWER)
        assert (status, profile) == ("rejected", "hmrc-dms-v2")
        assert codes and all(c.startswith("SCHEMAV_") for c in codes)

    def test_a_declaration_valid_in_both_versions_is_received_from_both(self, registry: ProfileRegistry | None) -> None:
        """Where the versions agree, so do the verdicts; only the profile named differs."""
        assert registry is not None, MISSING
        settings = network()
        assert run(registry, settings, "gb-modern", BOTH) == ("received", [], "hmrc-dms")
        assert run(registry, settings, "gb-legacy", BOTH) == ("received", [], "hmrc-dms-v2")

    def test_cancellations_follow_the_participants_version_too(self, registry: ProfileRegistry | None) -> None:
        """A 3.x cancellation is read as a cancellation by both versions and judged by the participant's."""
        assert registry is not None, MISSING
        settings = network()
        assert run(registry, settings, "gb-modern", CANCEL)[0] == "received"
        assert run(registry, settings, "gb-legacy", CANCEL)[0] == "rejected"

    def test_cut_over_date_moves_a_participant_to_the_newer_version(self, registry: ProfileRegistry | None) -> None:
        """Before its cut-over the participant's 3.x-only declaration is rejected by 2.x; from that day, received."""
        assert registry is not None, MISSING
        settings = network()
        assert run(registry, settings, "gb-moving", NEWER, CUT_OVER - dt.timedelta(days=1))[0] == "rejected"
        assert run(registry, settings, "gb-moving", NEWER, CUT_OVER) == ("received", [], "hmrc-dms")

    def test_an_undecided_participant_stops_start_up(self, registry: ProfileRegistry | None) -> None:
        """Without a default, a participant naming no HMRC version is refused before anything is consumed."""
        assert registry is not None, MISSING
        settings = network(profile_versions=[])
        with pytest.raises(ProfileError) as info:
            build_stages(settings, registry)
        assert "participants.gb-modern.profile_versions" in str(info.value)
        assert "hmrc-dms, hmrc-dms-v2" in str(info.value)


class TestDeclarationModel:
    def test_both_versions_give_adapters_the_same_model(self) -> None:
        """The delivery side reads a declaration by root and payload: loading 2.x beside 3.x changes nothing."""
        assert SHARED.is_dir(), MISSING
        xml = BOTH.read_bytes()
        alone = ModelReaders.load(PROFILES[:2])(xml)
        assert [i.hs_code for i in alone.items] == ["22030001"]
        assert ModelReaders.load(PROFILES)(xml) == alone


class TestStartup:
    def test_run_refuses_an_undecided_network_before_consuming(self, tmp_path: Path) -> None:
        """`oco-gateway run` with both HMRC versions and no profile_versions exits 2, naming the keys to set."""
        assert SHARED.is_dir(), MISSING
        config = tmp_path / "network.yaml"
        config.write_text(yaml.safe_dump({
            "profiles_dir": str(profiles_folder(tmp_path)),
            "participants": {"gb-a": {"name": "A"}},
            "members": {"GB": {"name": "United Kingdom", "submitters": ["gb-a"]}},
        }))
        result = CliRunner().invoke(run_command, ["--config", str(config)])
        assert result.exit_code == 2, result.output
        assert "participants.gb-a.profile_versions" in result.output and "hmrc-dms, hmrc-dms-v2" in result.output
