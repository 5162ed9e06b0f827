"""``oco-gateway aeo ...`` where no broker is needed: key generation, and every error an operator can meet before
Kafka (or when Kafka is unreachable) as one line and an exit code, never a traceback and never the key."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from gateway.aeo.exchange import FileSignature, signature_path, write_snapshot, write_snapshot_files
from gateway.aeo.issuing import grant
from gateway.aeo.signing import SigningKey, TrustStore, load_signing_key
from gateway.cli import main
from gateway.config import TrustedKey
from gateway.ops.broker import free_ports

TODAY = date.today()


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["aeo", *(str(a) for a in args)], env=env)


def one_line_error(result: Result, code: int) -> str:
    """The command failed with ``code``, saying why in one line on stderr, with no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oco-gateway: "), result.stderr
    return lines[0]


class Network:
    """A network file with FJ, WS, NZ and the partner US, its trust store, keys, and Kafka nowhere."""

    def __init__(self, root: Path) -> None:
        self.fj = SigningKey.generate("FJ", "FJ-1")
        self.ws = SigningKey.generate("WS", "WS-1")
        self.us = SigningKey.generate("US", "US-1")
        self.keys = root / "keys"
        self.keys.mkdir()
        for key in (self.fj, self.ws, self.us):
            key.write(self.keys / f"{key.key_id}.json")
        self.trust = root / "trust.yaml"
        self.trust.write_text(yaml.safe_dump({
            "FJ": [self.fj.trusted_key().model_dump()], "WS": [self.ws.trusted_key().model_dump()]}))
        self.path = root / "network.yaml"
        self.path.write_text(yaml.safe_dump({
            "kafka": {"bootstrap_servers": f"127.0.0.1:{free_ports(1)[0]}"},  # nobody listens there
            "members": {"FJ": {"name": "Fiji"}, "WS": {"name": "Samoa"}, "NZ": {"name": "New Zealand"}},
            "aeo": {"trust_store": str(self.trust),
                    "partners": {"US": {"name": "CBP C-TPAT", "recognised_by": ["NZ"], "importer": "NZ",
                                        "keys": [self.us.trusted_key().model_dump()]}}},
        }))

    def key(self, key: SigningKey) -> Path:
        return self.keys / f"{key.key_id}.json"


@pytest.fixture
def net(tmp_path: Path) -> Network:
    return Network(tmp_path)


class TestKeygen:
    def test_writes_a_private_file_and_prints_a_trust_store_snippet(self, tmp_path: Path) -> None:
        """The private key goes to a 0600 file; stdout is YAML a trust store takes as it is, and the key it
        lists verifies what the file's key signs; the private key is printed nowhere."""
        result = run("keygen", "--member", "to", "--key-id", "TO-2026-1", "--out", tmp_path / "k")
        assert result.exit_code == 0, result.output
        path = tmp_path / "k" / "TO-2026-1.json"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o700"
        key = load_signing_key(path)
        assert (key.member, key.key_id) == ("TO", "TO-2026-1")
        snippet = yaml.safe_load(result.stdout)
        assert snippet == {"TO": [{"key_id": "TO-2026-1", "public_key": key.public_key}]}
        store = TrustStore({m: [TrustedKey.model_validate(k) for k in ks] for m, ks in snippet.items()})
        store.verify_bytes("TO", "TO-2026-1", b"x", key.sign_bytes(b"x"))
        assert str(path) in result.stderr and "never goes into the network file" in result.stderr
        private = json.loads(path.read_text())["private_key"]
        assert private not in result.output

    def test_default_folder_from_the_environment_and_no_overwrite(self, tmp_path: Path) -> None:
        env = {"OCO_AEO_KEYS_DIR": str(tmp_path / "vault")}
        assert run("keygen", "--member", "WS", "--key-id", "WS-9", env=env).exit_code == 0
        path = tmp_path / "vault" / "WS-9.json"
        before = path.read_bytes()
        line = one_line_error(run("keygen", "--member", "WS", "--key-id", "WS-9", env=env), 1)
        assert "already exists" in line and path.read_bytes() == before
        generated = run("keygen", "--member", "WS", env=env)
        assert generated.exit_code == 0
        (made,) = [p for p in (tmp_path / "vault").iterdir() if p.name != "WS-9.json"]
        assert made.name.startswith("WS-") and f"key_id: {made.stem}" in generated.stdout

    def test_bad_member_or_key_id(self, tmp_path: Path) -> None:
        assert run("keygen", "--member", "Fiji", "--out", tmp_path).exit_code == 2
        result = run("keygen", "--member", "FJ", "--key-id", "../escape", "--out", tmp_path)
        assert result.exit_code == 2 and list(tmp_path.iterdir()) == []


def issue_args(net: Network, *extra: str, trader: str = "FJ0000001", key: Path | None = None) -> list[str | Path]:
    return ["issue", "--config", net.path, "--member", "FJ", "--trader", trader, "--category", "AEOF",
            "--expiry", (TODAY + timedelta(days=700)).isoformat(), "--key", key or net.key(net.fj), *extra]


class TestIssueErrors:
    def test_no_key(self, net: Network) -> None:
        args = [a for a in issue_args(net) if a not in ("--key", net.key(net.fj))]
        line = one_line_error(run(*args, env={"OCO_AEO_SIGNING_KEY": ""}), 2)
        assert "no signing key" in line and "--key FILE" in line

    def test_not_a_key_file_and_the_secret_is_never_quoted(self, net: Network, tmp_path: Path) -> None:
        secret = json.loads(net.key(net.fj).read_text())["private_key"]
        broken = tmp_path / "broken.json"
        broken.write_text(net.key(net.fj).read_text().replace("Ed25519", "RSA"))
        result = run(*issue_args(net, key=broken))
        assert "not a key made by" in one_line_error(result, 2) and secret not in result.output

    def test_key_of_another_member(self, net: Network) -> None:
        line = one_line_error(run(*issue_args(net, key=net.key(net.ws))), 2)
        assert line == "oco-gateway: the signing key WS-1 signs for WS, not for FJ"

    def test_key_the_trust_store_does_not_list(self, net: Network) -> None:
        rogue = SigningKey.generate("FJ", "FJ-rogue")
        rogue.write(net.keys / "rogue.json")
        line = one_line_error(run(*issue_args(net, key=net.keys / "rogue.json")), 2)
        assert "not a trusted key of FJ" in line and "trust store" in line

    def test_member_not_in_the_network(self, net: Network) -> None:
        SigningKey.generate("PG", "PG-1").write(net.keys / "pg.json")
        args = issue_args(net, key=net.keys / "pg.json")
        args[args.index("--member") + 1] = "PG"
        assert "PG is not a member of the network" in one_line_error(run(*args), 2)

    @pytest.mark.parametrize(("extra", "trader", "code", "says"), [
        ((), "WS0000001", 1, "FJ can certify only traders whose AEO code starts with FJ"),
        ((), "FJ-1", 1, "is not an AEO code"),
        (("--effective", "2099-01-01"), "FJ0000001", 1, "is before the effective date"),
        (("--name", "N" * 71), "FJ0000001", 1, "the schema refuses it: Element 'aeo:Name'"),
        (("--consent", "NZ,XX"), "FJ0000001", 2, "XX: not a member or MRA partner"),
        (("--city", "Suva"), "FJ0000001", 2, "an address needs --address-line and --city"),
    ])
    def test_refused_before_kafka(self, net: Network, extra: tuple[str, ...], trader: str, code: int,
                                  says: str) -> None:
        """What needs no registry is refused before connecting (Kafka is unreachable here)."""
        result = run(*issue_args(net, *extra, trader=trader))
        assert result.exit_code == code, result.output
        assert says in result.output and "Traceback" not in result.output and "Kafka" not in result.output

    def test_unreachable_kafka_is_one_line(self, net: Network) -> None:
        line = one_line_error(run(*issue_args(net)), 1)
        assert "cannot reach Kafka" in line

    def test_unreachable_kafka_for_show(self, net: Network) -> None:
        line = one_line_error(run("show", "FJ0000001", "--config", net.path), 1)
        assert "Kafka" in line

    def test_usage_errors(self, net: Network) -> None:
        base = ["--config", net.path, "--member", "FJ", "--trader", "FJ0000001", "--key", net.key(net.fj)]
        result = run("consent", *base)
        assert result.exit_code == 2 and "--set CODES, or --add / --remove" in result.output
        result = run("consent", *base, "--set", "NZ", "--add", "WS")
        assert result.exit_code == 2
        result = run("export", "--config", net.path, "--member", "FJ", "--format", "csv", "--partner", "US",
                     "--all-details", "--out", "x.csv", "--key", net.key(net.fj))
        assert result.exit_code == 2 and "own backup" in result.output
        assert run("show", "FJ0000001", "--as", "XX", "--config", net.path).exit_code == 2


class TestImportBeforeKafka:
    def snapshot(self, net: Network, tmp_path: Path, key: SigningKey, trader: str) -> Path:
        event = grant(key, trader_id=trader, category="AEOS", effective=TODAY, expiry=TODAY + timedelta(days=9),
                      name="Acme", consent=("NZ",))
        path = tmp_path / "snap.csv"
        write_snapshot_files(path, *write_snapshot([event], key, "csv", recipient="NZ"))
        return path

    def test_an_altered_file_is_refused_whole(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, net.us, "US0000001")
        path.write_bytes(path.read_bytes().replace(b"AEOS", b"AEOF"))
        line = one_line_error(run("import", path, "--config", net.path), 1)
        assert "altered or truncated" in line and "whole file refused" in line

    def test_a_file_signed_by_an_unknown_key_is_refused_whole(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, SigningKey.generate("US", "US-forged"), "US0000001")
        line = one_line_error(run("import", path, "--config", net.path), 1)
        assert "unknown_key" in line

    def test_without_its_signature_file(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, net.us, "US0000001")
        signature_path(path).unlink()
        assert "signature" in one_line_error(run("import", path, "--config", net.path), 1)

    def test_only_the_configured_importer_imports_a_partner(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, net.us, "US0000001")
        line = one_line_error(run("import", path, "--member", "WS", "--config", net.path), 1)
        assert line == "oco-gateway: only NZ imports US's files (aeo.partners.US.importer), not WS"

    def test_a_member_imports_only_its_own_file(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, net.fj, "FJ0000001")
        line = one_line_error(run("import", path, "--member", "NZ", "--config", net.path), 1)
        assert "imported by FJ itself" in line

    def test_a_signer_outside_the_network(self, net: Network, tmp_path: Path) -> None:
        path = self.snapshot(net, tmp_path, net.us, "US0000001")
        data = path.read_bytes()
        jp = SigningKey.generate("JP", "JP-1")
        sig = FileSignature("JP", "JP-1", hashlib.sha256(data).hexdigest(), jp.sign_bytes(data))
        signature_path(path).write_text(sig.to_json())
        assert "neither a member nor an MRA partner" in one_line_error(run("import", path, "--config", net.path), 2)


class TestLoadBeforeKafka:
    def test_a_list_without_the_columns_is_refused(self, net: Network, tmp_path: Path) -> None:
        path = tmp_path / "list.csv"
        path.write_text("id,name\nFJ1,Acme\n")
        line = one_line_error(run("load", "--config", net.path, "--member", "FJ", path, "--key", net.key(net.fj)), 1)
        assert "missing trader_id, category, effective, expiry" in line


def test_key_from_the_environment_as_json(net: Network) -> None:
    """OCO_AEO_SIGNING_KEY may hold the key's JSON (a Kubernetes Secret): accepted, and errors do not echo it."""
    args = [a for a in issue_args(net, trader="WS1") if a not in ("--key", net.key(net.fj))]
    result = run(*args, env={"OCO_AEO_SIGNING_KEY": net.key(net.fj).read_text()})
    assert result.exit_code == 1 and "can certify only traders whose AEO code starts with FJ" in result.output
