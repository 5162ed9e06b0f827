"""A single-node Apache Kafka broker (KRaft, no ZooKeeper) for development and tests.

The official jars come from Maven Central through ``mvn dependency:copy-dependencies`` on the pinned
``kafka/pom.xml`` and are cached per version, so only the first start needs the network.
Everything a broker writes (data, logs, pid file, generated ``server.properties``) lives in one state
directory; delete it to start from scratch.

    state dir/
    ├── server.properties     generated on every start (mode 0600: it holds the administrator's password)
    ├── security              "secured" or "insecure": how the storage was formatted
    ├── admin.password        the super user's password (mode 0600; secured brokers only)
    ├── admin.properties      client settings of the super user for Kafka's own tools (mode 0600)
    ├── broker.pid            pid of the running java process
    ├── data/                 log.dirs (topics and the KRaft metadata log)
    └── logs/server.log       the broker's log4j log; logs/console.log has the JVM's own output

Secured (the default): clients authenticate with SASL/SCRAM-SHA-256 on the client listener (and, when TLS
files are given, SASL/SCRAM over TLS on a second listener); the KRaft ``StandardAuthorizer`` allows nothing
that no ACL grants (``allow.everyone.if.no.acl.found=false``) except to the super user ``oco-admin``, whose
SCRAM credential is written into the metadata log when the storage is formatted. The controller listener,
on 127.0.0.1 only, uses SASL/PLAIN with that same user. ``insecure=True`` keeps the old PLAINTEXT broker
where anyone may do anything.

Over 600 lines on purpose: fetching, formatting, starting, probing and stopping one broker share the same
paths and ports, and read best as one story; about 40% of the lines are operator messages and docstrings.

Linux only: whether the pid in broker.pid is still our broker is read from /proc.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.errors import BrokerError

__all__ = [
    "ADMIN_USER",
    "DEFAULT_HEAP_OPTS",
    "KAFKA_VERSION",
    "BrokerStatus",
    "BrokerTls",
    "LocalBroker",
    "check_java",
    "default_cache_dir",
    "default_state_dir",
    "fetch_jars",
    "free_ports",
    "java_major_version",
    "render_client_properties",
    "render_server_properties",
]

KAFKA_VERSION = "4.1.1"  # keep equal to kafka.version in kafka/pom.xml
DEFAULT_HEAP_OPTS = "-Xmx768m -Xms256m"
HOST = "127.0.0.1"  # a development broker is never reachable from other machines
_KAFKA_DIR = Path(__file__).with_name("kafka")
_MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"  # present only in a complete download
_INSTALL_HINT = "On Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven"
ADMIN_USER = "oco-admin"  # the super user of a secured local broker (gateway.access.identities.ADMIN)
ADMIN_PASSWORD_ENV = "OCO_BROKER_ADMIN_PASSWORD"  # used instead of a generated password when formatting
_SCRAM = "SCRAM-SHA-256"


def default_cache_dir() -> Path:
    """Return the jar cache of this Kafka version: ``<root>/kafka-<version>``.

    The root is ``$OCO_KAFKA_CACHE``, else ``$XDG_CACHE_HOME/oco-gateway`` (``~/.cache/oco-gateway``); the version in
    the path means a version bump never reuses old jars.
    """
    root = os.environ.get("OCO_KAFKA_CACHE")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oco-gateway")
    return Path(root) / f"kafka-{KAFKA_VERSION}"


def default_state_dir() -> Path:
    """Return the broker state directory: ``$OCO_BROKER_STATE`` or ``.state/kafka`` under the current directory."""
    return Path(os.environ.get("OCO_BROKER_STATE") or Path.cwd() / ".state" / "kafka")


def free_ports(count: int = 1) -> list[int]:
    """Return ``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now (the OS picks them).

    Args:
        count: how many ports.
    """
    with contextlib.ExitStack() as stack:  # hold every socket until all are bound, so the ports differ
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def java_major_version(version_output: str) -> int | None:
    """Return the Java major version from ``java -version`` output (``1.8.0_292`` is 8), or None if unreadable.

    Args:
        version_output: what ``java -version`` printed (it prints to stderr).
    """
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> str:
    """Return the path of the ``java`` on PATH, checked to be Java 17 or newer.

    Raises:
        BrokerError: no java on PATH, or one older than 17.
    """
    java = shutil.which("java")
    if java is None:
        raise BrokerError("Java 17 or newer is needed to run the local Kafka broker, but no `java` is on PATH. "
                          f"Install it. {_INSTALL_HINT}")
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    major = java_major_version(result.stderr + result.stdout)
    if major is None or major < 17:
        found = f"Java {major}" if major else f"an unreadable version ({result.stderr.strip()[:200]!r})"
        raise BrokerError(f"Kafka {KAFKA_VERSION} needs Java 17 or newer, but {java} is {found}. "
                          f"Install a newer JDK and put it first on PATH. {_INSTALL_HINT}")
    return java


def fetch_jars(cache_dir: Path) -> Path:
    """Return the directory holding the broker's jars, downloading them with Maven on first use.

    Maven writes into a temporary directory that is renamed into place only when complete, so an
    interrupted download never leaves a half cache.

    Args:
        cache_dir: the per-version cache directory (see ``default_cache_dir``).

    Raises:
        BrokerError: the jars are not cached and Maven is missing or fails.
    """
    libs = cache_dir / "libs"
    if (libs / _MARKER_JAR).is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(f"The Kafka {KAFKA_VERSION} jars are not cached in {libs} and Maven (`mvn`) is not on PATH "
                          f"to fetch them from Maven Central. Install it. {_INSTALL_HINT}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".libs-partial-", dir=cache_dir))
    command = [mvn, "-q", "-B", "-f", str(_KAFKA_DIR / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={partial}", "-DincludeScope=runtime"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (partial / _MARKER_JAR).is_file():
            said = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
            raise BrokerError(f"Maven could not fetch the Kafka {KAFKA_VERSION} jars into {cache_dir} "
                              f"(exit code {result.returncode}). Check access to Maven Central (proxies go in "
                              f"~/.m2/settings.xml) and retry. Maven said:\n{said}")
        if libs.exists():  # an incomplete cache left by hand: replace it
            shutil.rmtree(libs)
        partial.chmod(0o755)  # mkdtemp made it private; the cache may be shared
        partial.rename(libs)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return libs


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """TLS files of a broker's TLS listener (SASL/SCRAM over TLS), all PEM.

    Args:
        keystore: the broker's private key (unencrypted PKCS#8) followed by its certificate chain, in one file.
        truststore: the CA certificates client certificates must chain to (and that clients trust).
        port: the listener's port on 127.0.0.1.
        client_auth: require a client certificate signed by the truststore's CA (mutual TLS).
    """

    keystore: Path
    truststore: Path
    port: int
    client_auth: bool = False


_SAFE_PASSWORD = re.compile(r"[A-Za-z0-9_.~+/=@%:,^-]{12,200}")


def _jaas(module: str, user: str, password: str, *, plain_users: bool = False) -> str:
    extra = f' user_{user}="{password}"' if plain_users else ""
    return f'org.apache.kafka.common.security.{module} required username="{user}" password="{password}"{extra};'


def render_server_properties(*, data_dir: Path, port: int, controller_port: int, admin_password: str | None = None,
                             tls: BrokerTls | None = None) -> str:
    """Return the ``server.properties`` text of a combined broker+controller node listening on 127.0.0.1.

    Args:
        data_dir: where topic data and the KRaft metadata log go (``log.dirs``).
        port: client port: SASL/SCRAM (listener CLIENT) when secured, else PLAINTEXT (listener PLAINTEXT).
        controller_port: KRaft controller port (SASL/PLAIN when secured, on 127.0.0.1 only).
        admin_password: the super user's password: a secured broker; None for an insecure one.
        tls: add a SASL/SCRAM-over-TLS listener (secured brokers only).
    """
    secured = admin_password is not None
    name = "CLIENT" if secured else "PLAINTEXT"
    listeners = [f"{name}://{HOST}:{port}", f"CONTROLLER://{HOST}:{controller_port}"]
    if tls is not None:
        if not secured:
            raise BrokerError("a TLS listener needs a secured broker (SASL/SCRAM over TLS)")
        listeners.insert(1, f"TLS://{HOST}:{tls.port}")
    settings: dict[str, Any] = {
        "process.roles": "broker,controller",
        "node.id": 1,
        # A dynamic single-voter quorum: required by `StorageTool format --standalone`.
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(listeners),
        "inter.broker.listener.name": name,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    }
    if secured:
        assert admin_password is not None
        settings |= {
            "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT,TLS:SASL_SSL",
            "sasl.mechanism.inter.broker.protocol": _SCRAM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.client.sasl.enabled.mechanisms": _SCRAM,
            "listener.name.client.scram-sha-256.sasl.jaas.config": _jaas("scram.ScramLoginModule", ADMIN_USER,
                                                                         admin_password),
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": _jaas("plain.PlainLoginModule", ADMIN_USER,
                                                                     admin_password, plain_users=True),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN_USER}",
            "allow.everyone.if.no.acl.found": "false",
        }
    if tls is not None:
        assert admin_password is not None
        settings |= {
            "listener.name.tls.sasl.enabled.mechanisms": _SCRAM,
            "listener.name.tls.scram-sha-256.sasl.jaas.config": _jaas("scram.ScramLoginModule", ADMIN_USER,
                                                                      admin_password),
            "listener.name.tls.ssl.keystore.type": "PEM",
            "listener.name.tls.ssl.keystore.location": str(tls.keystore),
            "listener.name.tls.ssl.truststore.type": "PEM",
            "listener.name.tls.ssl.truststore.location": str(tls.truststore),
            "listener.name.tls.ssl.client.auth": "required" if tls.client_auth else "none",
        }
    settings |= {
        "log.dirs": str(data_dir).replace("\\", "\\\\"),
        "auto.create.topics.enable": "false",  # the gateway creates its topics; a typo must not create one
        "num.partitions": 3,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # One node cannot hold the default 3 replicas of the internal topics.
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "group.initial.rebalance.delay.ms": 0,  # consumers in tests join at once instead of after 3 s
    }
    lines = [f"# Generated by gateway/ops/broker.py for Kafka {KAFKA_VERSION}; rewritten on every start."]
    return "\n".join(lines + [f"{key}={value}" for key, value in settings.items()]) + "\n"


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What ``LocalBroker.status`` found: whether the broker runs, its pid and where clients connect."""

    running: bool
    pid: int | None
    bootstrap_servers: str
    secured: bool | None = None  # None: never formatted


class LocalBroker:
    """One local Kafka broker, identified by its state directory.

    Args:
        state_dir: holds data, logs, pid file and server.properties; default ``default_state_dir()``.
        port: client port; default the one recorded in the state dir by the last start, else 9092.
        controller_port: KRaft controller port; default the recorded one, else 9093.
        cache_dir: jar cache; default ``default_cache_dir()``.
        heap_opts: JVM heap flags; default ``$OCO_KAFKA_HEAP_OPTS`` or ``-Xmx768m -Xms256m``.
        insecure: True for a PLAINTEXT broker without authentication or authorisation; default: as the state
            dir was formatted, and secured for a new one.
        tls: also listen with SASL/SCRAM over TLS (secured brokers only).
    """

    def __init__(self, state_dir: Path | None = None, *, port: int | None = None, controller_port: int | None = None,
                 cache_dir: Path | None = None, heap_opts: str | None = None, insecure: bool | None = None,
                 tls: BrokerTls | None = None) -> None:
        self.state_dir = Path(state_dir or default_state_dir()).resolve()
        self.properties_file = self.state_dir / "server.properties"
        self.pid_file = self.state_dir / "broker.pid"
        self.data_dir = self.state_dir / "data"
        self.logs_dir = self.state_dir / "logs"
        self.security_file = self.state_dir / "security"
        self.admin_password_file = self.state_dir / "admin.password"
        self.admin_properties_file = self.state_dir / "admin.properties"
        recorded = _recorded_ports(self.properties_file)
        self.port = port or recorded.get("CLIENT", 9092)
        self.controller_port = controller_port or recorded.get("CONTROLLER", 9093)
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.heap_opts = heap_opts or os.environ.get("OCO_KAFKA_HEAP_OPTS") or DEFAULT_HEAP_OPTS
        formatted = self.formatted_secured()
        self.secured = (not insecure) if insecure is not None else (formatted if formatted is not None else True)
        self.tls = tls

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{HOST}:{self.port}"

    @property
    def tls_bootstrap_servers(self) -> str | None:
        """The ``host:port`` of the TLS listener, if there is one."""
        return f"{HOST}:{self.tls.port}" if self.tls else None

    def formatted_secured(self) -> bool | None:
        """Tell how the state dir's storage was formatted: secured (True), insecure (False), or not yet (None).

        A storage formatted before brokers were secured has no marker and reads as insecure.
        """
        if self.security_file.is_file():
            return self.security_file.read_text().strip() == "secured"
        return False if (self.data_dir / "meta.properties").is_file() else None

    def admin_password(self) -> str:
        """Return the super user's password (secured brokers), from ``admin.password``.

        Raises:
            BrokerError: the broker is not secured, or the file is missing (the storage was never formatted).
        """
        if not self.secured:
            raise BrokerError(f"the Kafka broker of {self.state_dir} is not secured: it has no administrator")
        try:
            return self.admin_password_file.read_text().strip()
        except OSError as exc:
            raise BrokerError(f"cannot read the broker administrator's password {self.admin_password_file}: "
                              f"{exc.strerror}; start the broker once to create it") from exc

    def admin_security(self) -> dict[str, Any]:
        """Return the aiokafka security options of the super user (empty for an insecure broker)."""
        if not self.secured:
            return {}
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": _SCRAM, "sasl_plain_username": ADMIN_USER,
                "sasl_plain_password": self.admin_password()}

    def status(self) -> BrokerStatus:
        """Return whether this state dir's broker process is alive, with its pid."""
        pid = self._live_pid()
        return BrokerStatus(running=pid is not None, pid=pid, bootstrap_servers=self.bootstrap_servers,
                            secured=self.formatted_secured())

    def start(self, timeout: float = 60.0) -> BrokerStatus:
        """Start the broker detached and wait until it answers Kafka metadata requests; no-op if already running.

        Args:
            timeout: seconds to wait for the broker to answer (the jar download is not counted).

        Raises:
            BrokerError: Java/Maven missing, jars not fetchable, port busy, format failed, or the broker did not
                answer in time (the message then ends with the tail of its log).
        """
        current = self.status()
        if current.running:
            recorded = _recorded_ports(self.properties_file)
            if (recorded.get("CLIENT"), recorded.get("CONTROLLER")) != (self.port, self.controller_port):
                raise BrokerError(f"The Kafka broker of {self.state_dir} already runs (pid {current.pid}) on ports "
                                  f"{recorded.get('CLIENT')}/{recorded.get('CONTROLLER')}, not the ones asked for; "
                                  "stop it first or use another --state-dir.")
            self._check_mode()
            return current
        self._check_mode()
        java = check_java()
        libs = fetch_jars(self.cache_dir)
        for port in (self.port, self.controller_port, *([self.tls.port] if self.tls else [])):
            if not _port_is_free(port):
                raise BrokerError(f"Port {port} on {HOST} is already in use by another process, so the Kafka broker "
                                  f"of {self.state_dir} cannot listen there. Stop that process or pick other ports "
                                  "(--port / --controller-port).")
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        new = not (self.data_dir / "meta.properties").is_file()
        password = self._admin_password_for_start(new)
        _write_private(self.properties_file, render_server_properties(
            data_dir=self.data_dir, port=self.port, controller_port=self.controller_port, admin_password=password,
            tls=self.tls))
        if password is not None:
            _write_private(self.admin_properties_file, render_client_properties(ADMIN_USER, password))
        if new:
            self._format_storage(java, libs, password)
            self.security_file.write_text("secured\n" if password is not None else "insecure\n")
        with open(self.logs_dir / "console.log", "ab") as console:
            # Own session: Ctrl-C in the starting terminal must not reach the broker.
            process = subprocess.Popen([java, *self.heap_opts.split(), *self._jvm_args(libs), "kafka.Kafka",
                                        str(self.properties_file)], stdin=subprocess.DEVNULL, stdout=console,
                                       stderr=subprocess.STDOUT, cwd=self.state_dir, start_new_session=True)
        self.pid_file.write_text(f"{process.pid}\n")
        try:
            self._wait_until_answering(process, timeout)
        except BaseException:  # also Ctrl-C: never leave a half-started broker behind
            self.stop(timeout=10)
            raise
        return self.status()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker: SIGTERM (a clean shutdown), then SIGKILL after ``timeout``. Idempotent.

        Args:
            timeout: seconds to wait for a clean shutdown before killing.

        Returns:
            True if a running broker was stopped, False if none was running.

        Raises:
            BrokerError: the process survived SIGKILL (it should not).
        """
        pid = self._live_pid()
        if pid is not None:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                if self._wait_gone(pid, wait):
                    break
            else:
                raise BrokerError(f"Kafka broker pid {pid} ({self.state_dir}) survived SIGKILL; check it with `ps`.")
        self.pid_file.unlink(missing_ok=True)
        return pid is not None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of the broker log and of the JVM console output, labelled by file.

        Args:
            lines: how many lines of each file.
        """
        parts = []
        for path in (self.logs_dir / "server.log", self.logs_dir / "console.log"):
            if path.is_file():
                with open(path, encoding="utf-8", errors="replace") as log:
                    tail = collections.deque(log, maxlen=lines)
                if tail:
                    parts.append(f"--- last lines of {path} ---\n{''.join(tail).rstrip()}")
        return "\n".join(parts) or f"(no broker log in {self.logs_dir})"

    def _jvm_args(self, libs: Path) -> list[str]:
        return ["-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={_KAFKA_DIR / 'log4j2.yaml'}", f"-Dkafka.logs.dir={self.logs_dir}",
                "-cp", str(libs / "*")]  # java expands the '*' itself

    def _check_mode(self) -> None:
        formatted = self.formatted_secured()
        if formatted is not None and formatted != self.secured:
            how, other = ("secured", "--insecure") if formatted else ("insecure (before brokers were secured, or "
                                                                      "with --insecure)", "without --insecure")
            raise BrokerError(f"The Kafka broker of {self.state_dir} was created {how}; it cannot change now. "
                              f"Start it {other}, or delete {self.state_dir} to start afresh (its topics are lost).")

    def _admin_password_for_start(self, new: bool) -> str | None:
        if not self.secured:
            return None
        if not new:
            return self.admin_password()
        password = os.environ.get(ADMIN_PASSWORD_ENV) or secrets.token_urlsafe(24)
        if not _SAFE_PASSWORD.fullmatch(password):
            raise BrokerError(f"{ADMIN_PASSWORD_ENV} must be 12 to 200 letters, digits or ._~+/=@%:,^- "
                              "(it goes into Kafka's JAAS configuration)")
        _write_private(self.admin_password_file, password + "\n")
        return password

    def _format_storage(self, java: str, libs: Path, admin_password: str | None) -> None:
        command = [java, "-Xmx256m", *self._jvm_args(libs), "kafka.tools.StorageTool", "format",
                   "-t", _new_cluster_id(), "-c", str(self.properties_file), "--standalone"]
        if admin_password is not None:  # the super user's credential, in the metadata log from the start
            command += ["--add-scram", f'{_SCRAM}=[name="{ADMIN_USER}",password="{admin_password}"]']
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise BrokerError(f"Formatting the Kafka storage in {self.data_dir} failed (exit code {result.returncode}):"
                              f"\n{(result.stdout + result.stderr).strip()}\nDelete {self.state_dir} and retry.")

    def _wait_until_answering(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(f"The Kafka broker ({self.state_dir}) exited with code {process.returncode} while "
                                  f"starting.\n{self.log_tail()}")
            # A cheap TCP check first, so the Kafka client is not asked (and does not log errors) too early.
            if _port_is_open(self.port) and _answers_metadata(self.bootstrap_servers, self.admin_security()):
                return
            time.sleep(0.5)
        raise BrokerError(f"The Kafka broker ({self.state_dir}) did not answer on {self.bootstrap_servers} within "
                          f"{timeout:.0f} s; it was stopped.\n{self.log_tail()}")

    def _live_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        # Reap it if it is our own exited child: a zombie would still look alive.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        # Linux /proc: our server.properties on the command line rules out a recycled pid (a zombie's is empty).
        try:
            return str(self.properties_file).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._is_our_broker(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True


def _recorded_ports(properties_file: Path) -> dict[str, int]:
    """Return the listener ports the last start wrote (``{"CLIENT": 9092, "CONTROLLER": 9093}``; {} before the
    first start). The client listener is CLIENT on a secured broker and PLAINTEXT on an insecure one."""
    try:
        text = properties_file.read_text()
    except OSError:  # missing, or not ours to read
        text = ""
    listeners = re.search(r"^listeners=(.*)$", text, re.MULTILINE)
    found = re.findall(r"(PLAINTEXT|CLIENT|CONTROLLER|TLS)://[^,]*:(\d+)", listeners.group(1) if listeners else "")
    return {"CLIENT" if name == "PLAINTEXT" else name: int(port) for name, port in found}


def render_client_properties(user: str, password: str) -> str:
    """Return a client configuration for Kafka's own tools (``--command-config``, ``--consumer.config``).

    Args:
        user: the SCRAM user.
        password: its password.
    """
    return (f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism={_SCRAM}\n"
            f"sasl.jaas.config={_jaas('scram.ScramLoginModule', user, password)}\n")


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds a password), whatever umask says."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _new_cluster_id() -> str:
    """Return a random cluster id as ``kafka-storage random-uuid`` does: 16 bytes, URL-safe base64, no padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # Kafka refuses ids that look like command-line flags
            return cluster_id


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Java does: TIME_WAIT is not "in use"
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_is_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _answers_metadata(bootstrap_servers: str, security: dict[str, Any]) -> bool:
    """Return whether a Kafka client gets cluster metadata listing at least one broker."""

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000, **security)
        try:
            await admin.start()
            return bool((await admin.describe_cluster())["brokers"])
        except (KafkaError, OSError):  # OSError covers TimeoutError and refused connections
            return False
        finally:
            await admin.close()

    # Own thread, own event loop: works whether or not the caller already runs an event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe()).result()
