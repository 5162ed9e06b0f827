"""The local Kafka broker's plumbing, tested without Java, Maven or a running broker."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.broker_cmd import broker as broker_cli
from gateway.errors import BrokerError
from gateway.ops.broker import (
    KAFKA_VERSION,
    BrokerTls,
    LocalBroker,
    check_java,
    default_cache_dir,
    default_state_dir,
    fetch_jars,
    free_ports,
    java_major_version,
    render_client_properties,
    render_server_properties,
)

MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    """Write an executable shell script ``bin_dir/name`` standing in for a real tool."""
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def parse_properties(text: str) -> dict[str, str]:
    """Return the key=value pairs of a properties text, comments skipped."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture
def tool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make an empty directory the whole PATH, so neither java nor mvn is found unless a test fakes it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.fixture
def cached_jars(tmp_path: Path) -> Path:
    """Return a cache dir that already holds a (fake) complete jar download."""
    libs = tmp_path / "cache" / "libs"
    libs.mkdir(parents=True)
    (libs / MARKER_JAR).write_bytes(b"")
    return tmp_path / "cache"


class TestJava:
    """Finding a usable Java."""

    @pytest.mark.parametrize(("output", "major"), [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_292"', 8),
        ("no version here", None),
    ])
    def test_major_version_is_read_from_java_version_output(self, output: str, major: int | None) -> None:
        """Both the modern (17.0.x) and the legacy (1.8.x) version formats give the major version."""
        assert java_major_version(output) == major

    def test_missing_java_names_the_install_command(self, tool_dir: Path) -> None:
        """Without java on PATH the error says Java is missing and how to install it."""
        with pytest.raises(BrokerError, match=r"no `java` is on PATH.*apt-get install openjdk-17-jre-headless"):
            check_java()

    def test_java_older_than_17_is_refused(self, tool_dir: Path) -> None:
        """A Java 11 on PATH is reported with its version and the need for 17."""
        fake_tool(tool_dir, "java", "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2")
        with pytest.raises(BrokerError, match=r"needs Java 17 or newer.*is Java 11"):
            check_java()

    def test_java_17_is_accepted(self, tool_dir: Path) -> None:
        """A Java 17 on PATH is returned as the java to run."""
        fake_tool(tool_dir, "java", "echo 'openjdk version \"17.0.15\" 2025-04-15' >&2")
        assert check_java() == str(tool_dir / "java")

    def test_start_without_java_fails_before_touching_anything(self, tool_dir: Path, tmp_path: Path) -> None:
        """``start`` with no java raises BrokerError and creates no state."""
        state = tmp_path / "state"
        with pytest.raises(BrokerError, match="java"):
            LocalBroker(state, cache_dir=tmp_path / "cache").start()
        assert not state.exists()


class TestJarCache:
    """Fetching the broker jars with Maven, once."""

    def test_cached_jars_need_no_maven(self, tool_dir: Path, cached_jars: Path) -> None:
        """A complete cache is used as is, even with no mvn on PATH."""
        assert fetch_jars(cached_jars) == cached_jars / "libs"

    def test_missing_maven_names_the_install_command(self, tool_dir: Path, tmp_path: Path) -> None:
        """With nothing cached and no mvn, the error says Maven is missing, where the cache is, and how to install."""
        with pytest.raises(BrokerError, match=r"not cached in .*Maven \(`mvn`\) is not on PATH.*apt-get install"):
            fetch_jars(tmp_path / "cache")

    def test_failed_download_leaves_no_partial_cache(self, tool_dir: Path, tmp_path: Path) -> None:
        """A failing mvn raises BrokerError quoting Maven, and leaves neither libs/ nor a temp dir behind."""
        fake_tool(tool_dir, "mvn", "echo '[ERROR] Could not resolve dependencies'; exit 1")
        cache = tmp_path / "cache"
        with pytest.raises(BrokerError, match=r"(?s)exit code 1.*Could not resolve dependencies"):
            fetch_jars(cache)
        assert list(cache.iterdir()) == []

    def test_download_is_moved_into_place_when_complete(self, tool_dir: Path, tmp_path: Path) -> None:
        """mvn is called quietly with an output directory, whose content becomes libs/."""
        fake_tool(tool_dir, "mvn", f"""
            echo "$@" > "{tmp_path}/mvn-args"
            for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${{arg#-DoutputDirectory=}}";; esac; done
            : > "$out/{MARKER_JAR}"; : > "$out/kafka-clients-{KAFKA_VERSION}.jar"  # builtins: PATH is empty
        """)
        libs = fetch_jars(tmp_path / "cache")
        assert sorted(p.name for p in libs.iterdir()) == sorted([MARKER_JAR, f"kafka-clients-{KAFKA_VERSION}.jar"])
        assert [p.name for p in (tmp_path / "cache").iterdir()] == ["libs"]
        args = (tmp_path / "mvn-args").read_text().split()
        assert {"-q", "-B", "dependency:copy-dependencies"} <= set(args)

    def test_default_cache_is_per_version_under_xdg_cache_home(self, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
        """Without OCO_KAFKA_CACHE the jars go to $XDG_CACHE_HOME/oco-gateway/kafka-<version>."""
        monkeypatch.delenv("OCO_KAFKA_CACHE", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert default_cache_dir() == tmp_path / "oco-gateway" / f"kafka-{KAFKA_VERSION}"

    def test_oco_kafka_cache_overrides_the_cache_root(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """OCO_KAFKA_CACHE replaces the cache root; the version directory is kept below it."""
        monkeypatch.setenv("OCO_KAFKA_CACHE", str(tmp_path))
        assert default_cache_dir() == tmp_path / f"kafka-{KAFKA_VERSION}"


class TestServerProperties:
    """The generated broker configuration."""

    def test_single_kraft_node_on_loopback_only(self, tmp_path: Path) -> None:
        """The node is broker and controller, uses a bootstrap quorum, and listens on 127.0.0.1 only."""
        props = parse_properties(render_server_properties(data_dir=tmp_path, port=19092, controller_port=19093))
        assert props["process.roles"] == "broker,controller"
        assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
        assert "controller.quorum.voters" not in props  # `format --standalone` refuses it
        assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
        assert props["log.dirs"] == str(tmp_path)

    def test_settings_the_gateway_relies_on(self, tmp_path: Path) -> None:
        """No topic auto-creation, 3 partitions, replication 1 for internal topics, no rebalance delay."""
        props = parse_properties(render_server_properties(data_dir=tmp_path, port=9092, controller_port=9093))
        assert props["auto.create.topics.enable"] == "false"
        assert props["num.partitions"] == "3"
        assert props["offsets.topic.replication.factor"] == "1"
        assert props["transaction.state.log.replication.factor"] == "1"
        assert props["group.initial.rebalance.delay.ms"] == "0"
        assert props["min.insync.replicas"] == "1"


class TestSecuredServerProperties:
    """A secured broker's configuration (the default)."""

    def test_clients_authenticate_with_scram_and_nothing_is_allowed_without_an_acl(self, tmp_path: Path) -> None:
        """SCRAM on the client listener, PLAIN on the loopback controller listener, StandardAuthorizer, deny by
        default, one super user, no auto-created topics."""
        props = parse_properties(render_server_properties(data_dir=tmp_path, port=19092, controller_port=19093,
                                                          admin_password="a-long-admin-password"))
        assert props["listeners"] == "CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
        assert props["listener.security.protocol.map"].split(",")[:2] == ["CONTROLLER:SASL_PLAINTEXT",
                                                                         "CLIENT:SASL_PLAINTEXT"]
        assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-256"
        assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
        assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        assert props["allow.everyone.if.no.acl.found"] == "false"
        assert props["super.users"] == "User:oco-admin"
        assert props["auto.create.topics.enable"] == "false"

    def test_tls_listener_is_sasl_ssl_with_pem_files(self, tmp_path: Path) -> None:
        """A TLS listener: SASL_SSL, PEM keystore and truststore, client certificates required when asked."""
        tls = BrokerTls(tmp_path / "broker.pem", tmp_path / "ca.pem", 19094, client_auth=True)
        props = parse_properties(render_server_properties(data_dir=tmp_path, port=19092, controller_port=19093,
                                                          admin_password="a-long-admin-password", tls=tls))
        assert "TLS://127.0.0.1:19094" in props["listeners"].split(",")
        assert "TLS:SASL_SSL" in props["listener.security.protocol.map"]
        assert props["listener.name.tls.ssl.keystore.type"] == "PEM"
        assert props["listener.name.tls.ssl.client.auth"] == "required"

    def test_tls_needs_a_secured_broker(self, tmp_path: Path) -> None:
        """TLS is SASL over TLS: an insecure broker cannot have it."""
        with pytest.raises(BrokerError, match="secured"):
            render_server_properties(data_dir=tmp_path, port=1, controller_port=2,
                                     tls=BrokerTls(tmp_path / "k", tmp_path / "t", 3))

    def test_client_properties_for_kafkas_tools(self) -> None:
        """admin.properties: SASL_PLAINTEXT, SCRAM, the JAAS line of the user."""
        props = parse_properties(render_client_properties("oco-admin", "pw-123456789012"))
        assert props["security.protocol"] == "SASL_PLAINTEXT" and props["sasl.mechanism"] == "SCRAM-SHA-256"
        assert 'username="oco-admin" password="pw-123456789012"' in props["sasl.jaas.config"]

    def test_a_storage_formatted_insecure_is_never_started_secured(self, tmp_path: Path) -> None:
        """A state dir from before brokers were secured reads as insecure; asking for security says what to do."""
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "meta.properties").write_text("cluster.id=x\n")
        assert LocalBroker(tmp_path).formatted_secured() is False
        assert LocalBroker(tmp_path).secured is False  # default: as formatted
        with pytest.raises(BrokerError, match="created insecure.*--insecure.*delete"):
            LocalBroker(tmp_path, insecure=False).start()

    def test_a_new_state_dir_is_secured_by_default(self, tmp_path: Path) -> None:
        """Nothing formatted yet: secured, unless insecure=True."""
        assert LocalBroker(tmp_path).secured is True
        assert LocalBroker(tmp_path, insecure=True).admin_security() == {}


class TestStateDir:
    """Where a broker keeps its state, and what it reports without running."""

    def test_layout_is_under_the_state_dir(self, tmp_path: Path) -> None:
        """Data, logs, pid file and server.properties all live in the state dir."""
        local = LocalBroker(tmp_path)
        assert (local.data_dir, local.logs_dir) == (tmp_path / "data", tmp_path / "logs")
        assert (local.pid_file, local.properties_file) == (tmp_path / "broker.pid", tmp_path / "server.properties")

    def test_default_state_dir_is_dot_state_kafka_or_the_env(self, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
        """The state dir is .state/kafka under the current directory unless OCO_BROKER_STATE says otherwise."""
        monkeypatch.delenv("OCO_BROKER_STATE", raising=False)
        monkeypatch.chdir(tmp_path)
        assert default_state_dir() == tmp_path / ".state" / "kafka"
        monkeypatch.setenv("OCO_BROKER_STATE", str(tmp_path / "elsewhere"))
        assert default_state_dir() == tmp_path / "elsewhere"

    def test_ports_default_to_the_ones_last_used(self, tmp_path: Path) -> None:
        """Without explicit ports, a broker uses those recorded in its state dir's server.properties, else 9092/9093."""
        assert (LocalBroker(tmp_path).port, LocalBroker(tmp_path).controller_port) == (9092, 9093)
        (tmp_path / "server.properties").write_text(
            render_server_properties(data_dir=tmp_path, port=19092, controller_port=19093))
        assert LocalBroker(tmp_path).bootstrap_servers == "127.0.0.1:19092"
        assert LocalBroker(tmp_path).controller_port == 19093

    def test_stale_pid_file_means_stopped(self, tmp_path: Path) -> None:
        """A pid file naming a process that is not this broker reads as stopped, and stop just removes it."""
        local = LocalBroker(tmp_path)
        local.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Kafka broker
        assert not local.status().running
        assert local.stop() is False
        assert not local.pid_file.exists()

    def test_busy_port_is_reported_before_launching(self, tool_dir: Path, cached_jars: Path, tmp_path: Path) -> None:
        """If the client port is taken, start says which port and how to choose another."""
        fake_tool(tool_dir, "java", "echo 'openjdk version \"17.0.15\"' >&2")
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            local = LocalBroker(tmp_path / "state", port=port, controller_port=free_ports()[0], cache_dir=cached_jars)
            with pytest.raises(BrokerError, match=rf"Port {port} on 127.0.0.1 is already in use.*--port"):
                local.start()

    def test_free_ports_are_distinct(self) -> None:
        """Ports handed out together never repeat."""
        ports = free_ports(5)
        assert len(set(ports)) == 5


class TestCli:
    """``oco-gateway broker`` without a running broker."""

    def test_status_of_a_stopped_broker_exits_3(self, tmp_path: Path) -> None:
        """status prints 'stopped' and exits with code 3."""
        result = CliRunner().invoke(broker_cli, ["status", "--state-dir", str(tmp_path)])
        assert (result.exit_code, result.output.split()[0]) == (3, "stopped")

    def test_stop_when_not_running_succeeds(self, tmp_path: Path) -> None:
        """stop on a stopped broker says so and exits 0."""
        result = CliRunner().invoke(broker_cli, ["stop", "--state-dir", str(tmp_path)])
        assert result.exit_code == 0
        assert "not running" in result.output

    def test_start_without_java_explains_and_exits_1(self, tool_dir: Path, tmp_path: Path) -> None:
        """start with no java on PATH exits 1 with the install hint."""
        result = CliRunner().invoke(broker_cli, ["start", "--state-dir", str(tmp_path / "state")])
        assert result.exit_code == 1
        assert "apt-get install openjdk-17-jre-headless maven" in result.output
