"""``oco-gateway aeo ...`` on the real broker, as administrations use it: issue and look up (details only where
consented), the status flow, a national list loaded twice, a partner's snapshot imported by the right member,
and an export imported into a fresh network (its own broker) giving the same registry.

The network is this module's own: members WF, PF, AS and the MRA partner CL, which no other test uses, so
their trusted-trader topics are this module's alone.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from gateway.aeo.exchange import write_snapshot, write_snapshot_files
from gateway.aeo.issuing import change_status, grant
from gateway.aeo.signing import SigningKey
from gateway.aeo.status import Address
from gateway.cli import main
from gateway.ops.broker import LocalBroker, free_ports

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TODAY = date.today()
EXPIRY = (TODAY + timedelta(days=700)).isoformat()
MEMBERS = {"WF": "Service des Douanes de Wallis-et-Futuna", "PF": "Direction régionale des douanes de Polynésie",
           "AS": "American Samoa Customs"}
WAIT = "120"  # seconds for an event to show: generous on a loaded 2-core machine


class Net:
    """The module's network: keys made by ``aeo keygen``, a trust store from what it printed, a network file."""

    def __init__(self, root: Path, bootstrap: str) -> None:
        self.root = root
        self.keys = root / "keys"
        trust: dict[str, list[dict[str, str]]] = {}
        for member in MEMBERS:
            result = CliRunner().invoke(main, ["aeo", "keygen", "--member", member, "--key-id", f"{member}-1",
                                               "--out", str(self.keys)])
            assert result.exit_code == 0, result.output
            trust.update(yaml.safe_load(result.stdout))  # the printed snippet, pasted as it is
        (root / "trust.yaml").write_text(yaml.safe_dump(trust))
        self.partner = SigningKey.generate("CL", "CL-2026")  # Chile's customs, outside the network
        self.path = self.write(bootstrap, "network.yaml")

    def write(self, bootstrap: str, name: str) -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": bootstrap},
            "members": {code: {"name": name} for code, name in MEMBERS.items()},
            "aeo": {"trust_store": str(self.root / "trust.yaml"),
                    "partners": {"CL": {"name": "Aduana de Chile OEA", "recognised_by": ["PF"], "importer": "PF",
                                        "categories": ["AEOS", "AEOF"],
                                        "keys": [self.partner.trusted_key().model_dump()]}}},
        }))
        return path

    def key(self, member: str) -> str:
        return str(self.keys / f"{member}-1.json")

    def run(self, *args: str | Path, config: Path | None = None) -> Result:
        """One ``oco-gateway aeo`` command on this network."""
        return CliRunner().invoke(main, ["aeo", *(str(a) for a in args), "--config", str(config or self.path),
                                         *(["--timeout", WAIT] if args[0] not in ("show", "list") else [])])

    def ok(self, *args: str | Path, config: Path | None = None) -> str:
        result = self.run(*args, config=config)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def refused(self, *args: str | Path, code: int = 1) -> str:
        result = self.run(*args)
        assert result.exit_code == code, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        return result.output

    def show(self, trader: str, viewer: str | None = None, config: Path | None = None) -> dict:
        return json.loads(self.ok("show", trader, "--json", *(["--as", viewer] if viewer else []), config=config))

    def listed(self, *args: str, config: Path | None = None) -> list[dict]:
        return [json.loads(line) for line in self.ok("list", "--json", *args, config=config).splitlines()]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Net:
    return Net(tmp_path_factory.mktemp("aeo-net"), kafka_bootstrap)


class TestIssuing:
    def test_issue_show_and_the_status_flow(self, net: Net) -> None:
        """Issue, then show as the issuer (details), as a consented member (details), as another member and
        publicly (no details); suspend, reinstate, revoke, certify again (details carry over), change consent
        (the withdrawn member loses the details), let expire. Forbidden changes are one-line refusals."""
        wf = ["--member", "WF", "--trader", "WF0000101", "--key", net.key("WF")]
        out = net.ok("issue", *wf, "--category", "AEOF", "--expiry", EXPIRY, "--name", " Mata-Utu Shipping ",
                     "--address-line", "1 Quai de Mata-Utu", "--city", "Mata-Utu", "--postcode", "98600",
                     "--consent", "pf")
        assert re.fullmatch(r"WF0000101 granted #1 \(AEOF, \S+ to \S+\) signed with key WF-1; in the registry "
                            r"after \d+\.\d\d s\n", out), out

        issuer, consented, other, public = (net.show("WF0000101", v) for v in ("WF", "PF", "AS", None))
        assert issuer["name"] == consented["name"] == "Mata-Utu Shipping"
        assert consented["address"] == {"line": "1 Quai de Mata-Utu", "city": "Mata-Utu", "postcode": "98600",
                                        "country": "WF"}
        assert other["name"] is None and other["address"] is None and not other["details_visible"]
        assert public["name"] is None and not public["details_visible"]
        assert issuer["status"] == "granted" and issuer["active"] and issuer["key_id"] == "WF-1"
        assert issuer["consent"] == ["PF"]
        assert issuer["recognised_by"] == {"AS": "the Pacific regional mutual recognition arrangement",
                                           "PF": "the Pacific regional mutual recognition arrangement",
                                           "WF": "WF's own programme"}
        text = net.ok("show", "WF0000101", "--as", "AS")
        assert "not visible to AS: the trader did not consent to AS" in text and "Mata-Utu" not in text

        assert "cannot make a trader granted that is granted" in net.refused(
            "issue", *wf, "--category", "AEOF", "--expiry", EXPIRY)
        assert "suspended #2" in net.ok("suspend", *wf)
        suspended = net.show("WF0000101", "WF")
        assert suspended["status"] == "suspended" and not suspended["active"] and suspended["recognised_by"] == {}
        assert suspended["name"] == "Mata-Utu Shipping"  # details carry over to every new event
        assert "reinstated #3" in net.ok("reinstate", *wf)
        assert net.show("WF0000101")["active"]
        assert "revoked #4" in net.ok("revoke", *wf)
        assert "cannot make a trader reinstated that is revoked" in net.refused("reinstate", *wf)

        out = net.ok("issue", *wf, "--category", "AEOS", "--expiry", EXPIRY)  # certified again
        assert "granted #5 (AEOS" in out
        again = net.show("WF0000101", "PF")
        assert (again["sequence"], again["category"], again["name"], again["consent"]) == \
            (5, "AEOS", "Mata-Utu Shipping", ["PF"])

        assert "granted #6" in net.ok("consent", *wf, "--remove", "PF", "--add", "AS")
        assert net.show("WF0000101", "PF")["name"] is None  # withdrawn: a tombstone on PF's details topic
        assert net.show("WF0000101", "AS")["name"] == "Mata-Utu Shipping"
        assert "nothing published" in net.ok("consent", *wf, "--set", "AS")

        (listed,) = net.listed("--member", "WF", "--as", "AS")
        assert (listed["trader_id"], listed["sequence"], listed["name"]) == ("WF0000101", 6, "Mata-Utu Shipping")
        assert net.listed("--member", "WF", "--status", "revoked") == []
        assert "expired #7" in net.ok("expire", *wf)
        assert net.listed("--member", "WF", "--status", "expired")[0]["trader_id"] == "WF0000101"

    def test_a_key_the_network_does_not_trust_publishes_nothing(self, net: Net, tmp_path: Path) -> None:
        rogue = SigningKey.generate("WF", "WF-rogue")
        rogue.write(tmp_path / "rogue.json")
        out = net.refused("issue", "--member", "WF", "--trader", "WF0000666", "--category", "AEOC",
                          "--expiry", EXPIRY, "--key", tmp_path / "rogue.json", code=2)
        assert "not a trusted key of WF" in out
        assert "not known" in net.refused("show", "WF0000666")


NATIONAL = """trader_id,category,effective,expiry,name,address_line,city,postcode,country,consent
PF0000001,AEOF,2024-03-01,{expiry},Papeete Fret,Rue du Port,Papeete,98714,,WF AS
PF0000002,aeos,2024-03-01,{expiry},"Tahiti Perles, SARL",,,,,WF;AS
PF0000003,AEOC,2024-03-01,{expiry},Moorea Export,,,,,
WF0000004,AEOC,2024-03-01,{expiry},Not Ours,,,,,
PF0000005,AEOC,2024-03-01,{expiry},Stranger,,,,,JP
PF0000006,AEOC,2024-03-01,{expiry},{long},,,,,
PF0000001,AEOF,2024-03-01,{expiry},Twice,,,,,
"""


class TestLoad:
    def test_national_list_loads_once_and_reports_rows(self, net: Net, tmp_path: Path) -> None:
        """Valid rows become granted events; refused rows are listed with their line numbers; a second run
        issues nothing; a row that differs from the registry is refused, not re-issued."""
        path = tmp_path / "pf.csv"
        path.write_text(NATIONAL.format(expiry=EXPIRY, long="L" * 71))
        args = ["load", "--member", "PF", path, "--key", net.key("PF")]
        out = net.refused(*args)
        refused = [line for line in out.splitlines() if line.startswith("refused ")]
        assert [line.split()[2] for line in refused] == ["5", "6", "7", "8"]
        assert "must start with PF" in refused[0] and "JP" in refused[1] and "maxLength" in refused[2]
        assert "already on line 2" in refused[3]
        assert out.splitlines()[-1] == f"{path}: granted 3, skipped 0 (already granted, same content), refused 4"
        traders = {t["trader_id"]: t for t in net.listed("--member", "PF", "--as", "WF")}
        assert sorted(traders) == ["PF0000001", "PF0000002", "PF0000003"]
        assert traders["PF0000002"]["name"] == "Tahiti Perles, SARL" and traders["PF0000002"]["category"] == "AEOS"
        assert traders["PF0000001"]["address"]["postcode"] == "98714" and traders["PF0000003"]["name"] is None

        out = net.refused(*args)
        assert out.splitlines()[-1].endswith("granted 0, skipped 3 (already granted, same content), refused 4")
        assert [t["sequence"] for t in net.listed("--member", "PF")] == [1, 1, 1]

        changed = tmp_path / "pf-changed.csv"
        changed.write_text(NATIONAL.format(expiry=EXPIRY, long="L").replace("Moorea Export", "Moorea Export SA"))
        out = net.refused("load", "--member", "PF", changed, "--key", net.key("PF"), "--dry-run")
        assert "line 4 PF0000003: already certified (granted #1) with another name" in out
        assert "would grant 1" in out.splitlines()[-1]  # PF0000006, now with a short name
        assert len(net.listed("--member", "PF")) == 3


class TestPartnerFile:
    def test_partner_snapshot_imported_by_its_importer(self, net: Net, tmp_path: Path) -> None:
        """Chile's daily file (made by Chile's own tooling) is imported by PF only; its events land on
        oco.aeo.CL with details for the consented member, are recognised by PF under the MRA, and a later
        file with a suspension updates the registry. A row Chile may not issue is refused alone."""
        cl = net.partner
        a = grant(cl, trader_id="CL0000001", category="AEOS", effective=TODAY - timedelta(days=5), expiry=TODAY +
                  timedelta(days=300), name="Valparaíso Cargo", address=Address("Av. Errázuriz 1", "Valparaíso", "CL"),
                  consent=("PF",))
        b = grant(cl, trader_id="CL0000002", category="AEOF", effective=TODAY, expiry=TODAY + timedelta(days=300),
                  name="Santiago Air", consent=())
        day1 = tmp_path / "cl-day1.csv"
        data, sig = write_snapshot([a, b], cl, "csv", recipient="PF")
        write_snapshot_files(day1, data, sig)

        assert "only PF imports CL's files" in net.refused("import", day1, "--member", "AS")
        out = net.ok("import", day1)
        assert out.splitlines()[-1] == (f"{day1}: 2 event(s) of CL (csv, file signed with key CL-2026): 2 published, "
                                        "0 already in the registry, 0 older than the registry, 0 refused")
        seen = net.show("CL0000001", "PF")
        assert seen["name"] == "Valparaíso Cargo" and seen["issuer"] == "CL"
        assert seen["recognised_by"] == {"PF": "the mutual recognition arrangement between PF and CL "
                                               "(Aduana de Chile OEA)"}
        assert net.show("CL0000002", "PF")["name"] is None and net.show("CL0000001", "AS")["name"] is None
        assert "0 published, 2 already in the registry" in net.ok("import", day1)

        day2 = tmp_path / "cl-day2.xml"
        data, sig = write_snapshot([change_status(cl, a, "suspended"), b], cl, "xml", recipient="PF")
        write_snapshot_files(day2, data, sig)
        assert "1 published, 1 already in the registry" in net.ok("import", day2)
        assert net.show("CL0000001", "PF")["status"] == "suspended"
        assert "0 published, 1 already in the registry, 1 older than the registry" in net.ok("import", day1)

        foreign = cl.sign(dataclasses.replace(b, trader_id="PF0000099", signature=None))  # a PF trader
        day3 = tmp_path / "cl-day3.csv"
        write_snapshot_files(day3, *write_snapshot([b, foreign], cl, "csv"))
        out = net.refused("import", day3)
        assert "refused line 3 PF0000099: out_of_jurisdiction" in out
        assert out.rstrip().endswith("0 published, 1 already in the registry, 0 older than the registry, 1 refused")
        assert "not known" in net.refused("show", "PF0000099")


class TestRoundTrip:
    def test_export_then_import_into_a_fresh_network(self, net: Net, tmp_path: Path) -> None:
        """AS's traders (loaded, one suspended, one with changed consent) exported with every detail and
        imported into a fresh network on a broker of its own give the same registry: the same list as each
        member sees it, and a byte-identical export. A partner's export carries only the consented details."""
        path = tmp_path / "as.csv"
        path.write_text("trader_id,category,effective,expiry,name,address_line,city,postcode,country,consent\n"
                        f"AS0000001,AEOF,2025-01-01,{EXPIRY},Pago Pago Canneries,1 Harbour Rd,Pago Pago,96799,,PF\n"
                        f"AS0000002,AEOS,2025-01-01,{EXPIRY},Tutuila Freight,,,,,WF\n"
                        f"AS0000003,AEOC,2025-01-01,{EXPIRY},Manu'a Traders,,,,,CL\n")
        key = ["--key", net.key("AS")]
        assert "granted 3" in net.ok("load", "--member", "AS", path, *key)
        net.ok("suspend", "--member", "AS", "--trader", "AS0000002", *key)
        net.ok("consent", "--member", "AS", "--trader", "AS0000001", "--add", "WF", *key)

        backup, backup_xml, for_chile = tmp_path / "a.csv", tmp_path / "a.xml", tmp_path / "cl.csv"
        net.ok("export", "--member", "AS", "--format", "csv", "--all-details", "--out", backup, *key)
        out = net.ok("export", "--member", "AS", "--format", "xml", "--all-details", "--out", backup_xml, *key)
        assert "3 event(s) of AS, 3 with name and address" in out and Path(f"{backup_xml}.sig").exists()
        out = net.ok("export", "--member", "AS", "--format", "csv", "--partner", "CL", "--out", for_chile, *key)
        assert "1 with name and address (consented to CL)" in out
        text = for_chile.read_text()
        assert "Manu'a Traders" in text and "Pago Pago" not in text and "Tutuila" not in text

        state = tmp_path / "kafka-b"
        port, controller = free_ports(2)
        broker = LocalBroker(state, port=port, controller_port=controller, insecure=True)
        broker.start(timeout=120)
        try:
            fresh = net.write(broker.bootstrap_servers, "network-b.yaml")
            result = net.run("import", backup_xml, config=fresh)
            assert result.exit_code == 0, result.output
            assert "3 published, 0 already in the registry" in result.stdout
            visible = {"AS": ["AS0000001", "AS0000002", "AS0000003"], "PF": ["AS0000001"],
                       "WF": ["AS0000001", "AS0000002"]}
            for viewer, names in visible.items():
                before = net.listed("--member", "AS", "--as", viewer)
                after = net.listed("--member", "AS", "--as", viewer, config=fresh)
                assert after == before and len(after) == 3, viewer
                assert [t["trader_id"] for t in after if t["name"]] == names, viewer
            assert [t["status"] for t in after] == ["granted", "suspended", "granted"]
            again = tmp_path / "b.csv"
            net.ok("export", "--member", "AS", "--format", "csv", "--all-details", "--out", again, *key, config=fresh)
            assert again.read_bytes() == backup.read_bytes()
            assert Path(f"{again}.sig").read_text().replace("b.csv", "a.csv") == Path(f"{backup}.sig").read_text()
            assert "0 published, 3 already in the registry" in net.ok("import", backup, config=fresh)
        finally:
            broker.stop()


class TestRotation:
    def test_resign_under_a_new_key_then_retire_the_old_one(self, net: Net) -> None:
        """A new key beside the old one; ``resign`` restates every trader under it (details kept); once the old
        key is retired, the registry still holds every trader, and the old key signs nothing more."""
        trust_file = net.root / "trust.yaml"
        original = trust_file.read_text()
        try:
            old = ["--member", "WF", "--key", net.key("WF")]
            net.ok("issue", *old, "--trader", "WF0000201", "--category", "AEOC", "--expiry", EXPIRY,
                   "--name", "Futuna Copra", "--consent", "PF")
            made = CliRunner().invoke(main, ["aeo", "keygen", "--member", "WF", "--key-id", "WF-2",
                                             "--out", str(net.keys)])
            trust = yaml.safe_load(original)
            trust["WF"] += yaml.safe_load(made.stdout)["WF"]
            trust_file.write_text(yaml.safe_dump(trust))

            new = ["--member", "WF", "--key", str(net.keys / "WF-2.json")]
            signed_by_old = [t["trader_id"] for t in net.listed("--member", "WF") if t["key_id"] == "WF-1"]
            assert "WF0000201" in signed_by_old
            assert f"would re-sign {len(signed_by_old)} trader(s)" in net.ok("resign", *new, "--dry-run")
            assert f"re-signed {len(signed_by_old)} trader(s) of WF with key WF-2" in net.ok("resign", *new)
            shown = net.show("WF0000201", "PF")
            assert (shown["key_id"], shown["sequence"], shown["name"]) == ("WF-2", 2, "Futuna Copra")
            assert "re-signed 0" in net.ok("resign", *new)

            trust["WF"][0]["retired"] = True
            trust_file.write_text(yaml.safe_dump(trust))
            assert {t["key_id"] for t in net.listed("--member", "WF")} == {"WF-2"}
            assert net.show("WF0000201", "WF")["name"] == "Futuna Copra"
            assert "retired" in net.refused("suspend", *old, "--trader", "WF0000201", code=2)
        finally:
            trust_file.write_text(original)
