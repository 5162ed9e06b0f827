"""Deployment files agree with each other and with the gateway: Dockerfile, compose, Kubernetes, Prometheus, docs.

Each test checks one thing that can drift when someone edits one file and not the other: a port, an
environment variable, a label selector, a metric name, an alert's runbook section.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
K8S = ROOT / "k8s" / "base"
PROMETHEUS = DOCKER / "prometheus"
OPERATIONS = ROOT / "docs" / "operations.md"

# Prometheus jobs the rules select on; on Kubernetes each is also the name of that process's Deployment,
# Service and ServiceMonitor (the job label prometheus-operator derives from the Service).
JOB = "oco-gateway"  # `oco-gateway run`
DELIVERY_JOB = "oco-gateway-delivery"  # `oco-gateway deliver`
GATEWAY_SERVICE = "gateway"  # the compose service running `oco-gateway run`
DELIVERY_SERVICE = "delivery"  # the compose service running `oco-gateway deliver`
ADAPTERS = {"asycuda", "wco-xml", "kafka"}  # the national adapters this repository ships
SIMULATOR_OF = {"asycuda": "asycuda", "wco-xml": "wco"}  # adapter name -> `oco-gateway simulate` command
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DEFAULT_PARTITIONS = 3
DEFAULT_METRICS_PORT = 9464


# --- readers ------------------------------------------------------------------------------------------------


def _yaml(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


@cache
def _dockerfile() -> tuple[tuple[str, str], ...]:
    """Return the Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        instructions.append((word.upper(), rest.strip()))
        pending = ""
    return tuple(instructions)


def _final_stage() -> list[tuple[str, str]]:
    instructions = list(_dockerfile())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _final(word: str) -> str:
    found = [args for w, args in _final_stage() if w == word]
    assert found, f"the Dockerfile's final stage has no {word}"
    return found[-1]


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in _final_stage():
        if word == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def _image_uid() -> int:
    return int(_final("USER").split(":")[0])


@cache
def _compose() -> dict[str, Any]:
    return _yaml(DOCKER / "compose.yaml")


def _service(name: str) -> dict[str, Any]:
    services = _compose()["services"]
    assert name in services, f"docker/compose.yaml has no service {name!r}"
    service: dict[str, Any] = services[name]
    return service


def _our_image_services() -> dict[str, dict[str, Any]]:
    image = _service(GATEWAY_SERVICE)["image"]
    return {name: svc for name, svc in _compose()["services"].items() if svc.get("image") == image}


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


@cache
def _kustomization() -> dict[str, Any]:
    return _yaml(K8S / "kustomization.yaml")


@cache
def _k8s_objects() -> tuple[dict[str, Any], ...]:
    objects: list[dict[str, Any]] = []
    for name in _kustomization()["resources"]:
        objects += [doc for doc in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if doc]
    return tuple(objects)


def _k8s(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in _k8s_objects() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''} in k8s/base/, found {len(found)}"
    return found[0]


def _pod_spec(deployment: str = JOB) -> dict[str, Any]:
    spec: dict[str, Any] = _k8s("Deployment", deployment)["spec"]["template"]["spec"]
    return spec


def _container(deployment: str = JOB) -> dict[str, Any]:
    containers = _pod_spec(deployment)["containers"]
    assert len(containers) == 1, f"the {deployment} pod should run exactly one container"
    container: dict[str, Any] = containers[0]
    return container


def _pod_labels(deployment: str) -> dict[str, str]:
    labels: dict[str, str] = _k8s("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return labels


def _env_configmaps(deployment: str = JOB) -> list[dict[str, Any]]:
    envfrom = _container(deployment).get("envFrom", [])
    refs = [src["configMapRef"]["name"] for src in envfrom if "configMapRef" in src]
    return [_k8s("ConfigMap", ref) for ref in refs]


def _k8s_env(deployment: str = JOB) -> dict[str, str]:
    """Return every variable the pod gets: envFrom ConfigMaps, then env (fieldRefs as a placeholder)."""
    env: dict[str, str] = {}
    for configmap in _env_configmaps(deployment):
        env.update({key: str(value) for key, value in configmap.get("data", {}).items()})
    for item in _container(deployment).get("env", []):
        env[item["name"]] = str(item.get("value", f"<{item['name']} from the downward API>"))
    return env


def _k8s_network_text(deployment: str = JOB) -> str:
    path = _k8s_env(deployment).get("OCO_CONFIG") or _image_env()["OCO_CONFIG"]
    mount = _mount_serving(path, deployment)
    volume = next(v for v in _pod_spec(deployment)["volumes"] if v["name"] == mount["name"])
    configmap = _k8s("ConfigMap", volume["configMap"]["name"])
    key = Path(path).name
    for item in volume["configMap"].get("items", []):
        if item["path"] == Path(path).relative_to(mount["mountPath"]).as_posix():
            key = item["key"]
    assert key in configmap["data"], f"ConfigMap {configmap['metadata']['name']} has no key {key!r} for {path}"
    return str(configmap["data"][key])


def _mount_serving(path: str, deployment: str = JOB) -> dict[str, Any]:
    mounts = [m for m in _container(deployment).get("volumeMounts", [])
              if Path(path).is_relative_to(m["mountPath"])]
    assert mounts, f"no volumeMount in the {deployment} container serves {path}"
    return max(mounts, key=lambda m: len(m["mountPath"]))


def _port_number(port: int | str, deployment: str = JOB) -> int:
    """Resolve a probe or Service port (a number or the container port's name) to a number."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in _container(deployment)["ports"] if "name" in p}
    assert port in named, f"port name {port!r} is not a named port of the {deployment} container"
    return int(named[port])


def _option(command: list[str], flag: str) -> str | None:
    """Return the value given to ``flag`` in a command line, or None."""
    return command[command.index(flag) + 1] if flag in command else None


def _deliver_port(command: list[str], metrics_port: int) -> int:
    """Return the port `oco-gateway deliver` serves /metrics, /healthz and /readyz on (its --metrics-port)."""
    assert command[0] == "deliver", f"{command} does not run the delivery workers"
    given = _option(command, "--metrics-port")
    return int(given) if given is not None else metrics_port + 1


def _compose_delivery_port() -> int:
    network = _yaml(DOCKER / "network.yaml")
    metrics_port = int(_compose_env(_service(DELIVERY_SERVICE)).get(
        "OCO_METRICS__PORT", network.get("metrics", {}).get("port", DEFAULT_METRICS_PORT)))
    return _deliver_port(_service(DELIVERY_SERVICE)["command"], metrics_port)


def _k8s_delivery_port() -> int:
    metrics_port = int(_k8s_env(DELIVERY_JOB).get("OCO_METRICS__PORT", DEFAULT_METRICS_PORT))
    return _deliver_port(_container(DELIVERY_JOB)["args"], metrics_port)


def _scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in _yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _network_files() -> dict[str, str]:
    compose_mount = next(v for v in _service(GATEWAY_SERVICE)["volumes"] if v.split(":")[1] == _compose_config_path())
    return {
        "compose": (DOCKER / compose_mount.split(":")[0]).read_text(encoding="utf-8"),
        "kubernetes": _k8s_network_text(),
    }


def _compose_config_path() -> str:
    return _compose_env(_service(GATEWAY_SERVICE)).get("OCO_CONFIG") or _image_env()["OCO_CONFIG"]


@cache
def _rules() -> dict[str, Any]:
    return _yaml(PROMETHEUS / "rules.yml")


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in _rules()["groups"] for rule in group["rules"] if "alert" in rule]


@cache
def _exported_metrics() -> dict[str, str]:
    """Return every series name the gateway and the delivery workers export (counters with ``_total``)."""
    from gateway.ops.metrics import DeliveryMetrics, GatewayMetrics, KafkaWatchMetrics

    metrics: dict[str, str] = {}
    for registry in (GatewayMetrics().registry, DeliveryMetrics().registry):
        KafkaWatchMetrics(registry)  # both processes run a lag watch
        for family in registry.collect():
            name = f"{family.name}_total" if family.type == "counter" else family.name
            metrics[name] = family.type
    return metrics


def _network(where: str) -> dict[str, Any]:
    network: dict[str, Any] = yaml.safe_load(_network_files()[where])
    return network


def _declared_adapters() -> set[str]:
    """Return the adapter names pyproject.toml registers in the oco_gateway.adapters entry-point group."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return set(project["entry-points"]["oco_gateway.adapters"])


def _named_volume(service: dict[str, Any], path: str) -> str | None:
    """Return the compose named volume a service mounts at ``path`` (None for a bind mount or nothing)."""
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        if target == path and not source.startswith((".", "/")):
            return source
    return None


def _github_anchors(markdown: str) -> set[str]:
    """Return the anchors GitHub gives the headings of a Markdown document."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate one .dockerignore pattern (Go filepath.Match plus ``**``) to a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _dockerignored(path: str) -> bool:
    """Tell whether Docker leaves ``path`` out of the build context (the last matching pattern wins)."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        regex = _glob_regex(line.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- tests --------------------------------------------------------------------------------------------------


class TestDockerfile:
    def test_entrypoint_is_the_console_script(self) -> None:
        """The image's ENTRYPOINT is the `oco-gateway` console script that pyproject.toml declares."""
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
        assert json.loads(_final("ENTRYPOINT")) == ["oco-gateway"]
        assert "oco-gateway" in scripts

    def test_default_command_runs_the_gateway(self) -> None:
        """Without arguments the container runs `oco-gateway run`."""
        assert json.loads(_final("CMD")) == ["run"]

    def test_every_stage_is_python_311_slim(self) -> None:
        """Both stages start from python:3.11-slim, so the venv copied between them finds its interpreter."""
        args = dict(a.split("=", 1) for w, a in _dockerfile() if w == "ARG" and "=" in a)
        bases = [a.split()[0] for w, a in _dockerfile() if w == "FROM"]
        resolved = {re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base) for base in bases}
        assert len(bases) >= 2, "the Dockerfile should be multi-stage"
        assert resolved == {"python:3.11-slim"}

    def test_runs_as_a_numeric_non_root_user(self) -> None:
        """The final stage switches to a numeric, non-zero UID, which Kubernetes' runAsNonRoot can verify."""
        assert _image_uid() != 0

    def test_profiles_dir_is_where_the_schemas_are_copied(self) -> None:
        """OCO_PROFILES_DIR names the folder schemas/ is copied to, and logs are JSON."""
        env = _image_env()
        copies = [a.split() for w, a in _final_stage() if w == "COPY" and a.split()[0].rstrip("/") == "schemas"]
        assert copies, "the final stage does not COPY schemas/"
        assert env["OCO_PROFILES_DIR"].rstrip("/") == copies[0][-1].rstrip("/")
        assert env["OCO_LOG_FORMAT"] == "json"

    def test_exposes_the_ports_kubernetes_probes(self) -> None:
        """EXPOSE names the metrics ports the gateway and delivery Deployments declare."""
        ports = {int(p.split("/")[0]) for p in _final("EXPOSE").split()}
        declared = {p["containerPort"] for name in (JOB, DELIVERY_JOB) for p in _container(name)["ports"]}
        assert ports == declared

    def test_creates_the_hot_folder_mount_points_for_its_user(self) -> None:
        """Each folder compose mounts a named volume on exists in the image, owned by the image's user.

        Docker seeds an empty named volume with the image's folder and its owner; without it the volume
        root belongs to root and the non-root user cannot write its hot folder.
        """
        uid = _image_uid()
        created = " ".join(a for w, a in _final_stage()
                           if w == "RUN" and (f"-o {uid}" in a or f"chown {uid}" in a))
        for name, svc in _our_image_services().items():
            for mount in svc.get("volumes", []):
                target = mount.split(":")[1]
                if _named_volume(svc, target):
                    assert target in created, f"{name}: {target} is not created for UID {uid} in the Dockerfile"

    def test_healthcheck_asks_healthz_without_curl(self) -> None:
        """The HEALTHCHECK probes /healthz with Python, since the slim image has no curl."""
        check = _final("HEALTHCHECK")
        assert "/healthz" in check
        assert '"python"' in check and "curl" not in check


class TestDockerignore:
    def test_keeps_what_pip_install_needs(self) -> None:
        """pyproject.toml, its readme, every file of the wheel's packages and schemas/ reach the build."""
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        needed = ["pyproject.toml", project["project"].get("readme", "pyproject.toml"), "schemas"]
        for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
            needed += [p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py")]
        left_out = [path for path in needed if _dockerignored(path)]
        assert not left_out, f".dockerignore leaves out files the image build needs: {left_out}"

    def test_leaves_out_local_state_and_tests(self) -> None:
        """The virtualenv, git metadata, local broker state, caches and tests stay out of the image."""
        for path in (".venv/bin/python", ".git/HEAD", ".state/kafka/meta.properties", "tests/unit/test_x.py",
                     "gateway/__pycache__/config.cpython-311.pyc", "docs/operations.md"):
            assert _dockerignored(path), f"{path} would be sent to the Docker build"


class TestNetworkConfig:
    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_loads_with_the_gateways_own_loader(
        self, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each deployment's network file, with that deployment's environment, passes the gateway's validation."""
        from gateway.config import load_settings

        env = _compose_env(_service(GATEWAY_SERVICE)) if where == "compose" else _k8s_env()
        for key in [k for k in os.environ if k.startswith("OCO_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key != "OCO_CONFIG":
                monkeypatch.setenv(key, value)
        path = tmp_path / "network.yaml"
        path.write_text(_network_files()[where], encoding="utf-8")
        settings = load_settings(path)
        assert settings.participants and settings.members

    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_every_submitter_is_a_declared_participant(self, where: str) -> None:
        """Each member's submitters are all declared under participants."""
        network = yaml.safe_load(_network_files()[where])
        for code, member in network["members"].items():
            unknown = set(member.get("submitters", [])) - set(network["participants"])
            assert not unknown, f"{where}: members.{code}.submitters names undeclared {sorted(unknown)}"

    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_every_participant_submits_for_some_member(self, where: str) -> None:
        """No participant is declared that no member accepts declarations from (it could only be rejected)."""
        network = yaml.safe_load(_network_files()[where])
        accepted = {p for member in network["members"].values() for p in member.get("submitters", [])}
        assert set(network["participants"]) <= accepted

    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_every_member_names_an_adapter(self, where: str) -> None:
        """Every member says which national adapter delivers to it."""
        network = yaml.safe_load(_network_files()[where])
        assert all(member.get("adapter", {}).get("name") for member in network["members"].values())

    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_every_adapter_is_one_this_repository_ships(self, where: str) -> None:
        """Each adapter name is asycuda, wco-xml or kafka, all three registered as entry points."""
        assert ADAPTERS <= _declared_adapters()
        for code, member in _network(where)["members"].items():
            assert member["adapter"]["name"] in ADAPTERS, (
                f"{where}: members.{code}.adapter.name {member['adapter']['name']!r} is not one of {sorted(ADAPTERS)}")

    @pytest.mark.parametrize("where", ["compose", "kubernetes"])
    def test_delivery_workers_accept_every_adapters_settings(
        self, where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`oco-gateway deliver` builds a worker per member: each adapter accepts its settings as written.

        Hot folders are container paths (a shared volume): they are created under tmp_path for the check.
        """
        import asyncio

        from gateway.config import load_settings
        from gateway.delivery.service import DeliveryService

        network = _network(where)
        for member in network["members"].values():
            folders = member["adapter"].get("settings", {}).get("hotfolder") or {}
            for key, folder in folders.items():
                if key in ("inbox", "outbox"):
                    local = tmp_path / folder.lstrip("/")
                    local.mkdir(parents=True, exist_ok=True)
                    folders[key] = str(local)
        for key in [k for k in os.environ if k.startswith("OCO_")]:
            monkeypatch.delenv(key)
        path = tmp_path / "network.yaml"
        path.write_text(yaml.safe_dump(network), encoding="utf-8")
        service = DeliveryService(load_settings(path))
        try:
            assert sorted(w.member for w in service.workers) == sorted(network["members"])
        finally:
            for worker in service.workers:
                asyncio.run(worker.adapter.aclose())


class TestCompose:
    def test_gateway_config_file_exists_and_is_mounted_at_oco_config(self) -> None:
        """The file bound to the gateway's OCO_CONFIG path exists beside compose.yaml and parses."""
        mounts = {v.split(":")[1]: v.split(":")[0] for v in _service(GATEWAY_SERVICE)["volumes"]}
        source = DOCKER / mounts[_compose_config_path()]
        assert source.is_file(), f"{source} is missing"
        network = _yaml(source)
        assert network["participants"] and network["members"]

    def test_build_context_is_the_repository_root(self) -> None:
        """The image builds from the repository root with docker/Dockerfile, where .dockerignore applies."""
        build = _service(GATEWAY_SERVICE)["build"]
        assert (DOCKER / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"

    def test_kafka_is_a_single_kraft_node_without_auto_create(self) -> None:
        """Kafka is apache/kafka:4.1.1 in KRaft combined mode with topic auto-creation off."""
        kafka = _service("kafka")
        env = _compose_env(kafka)
        assert kafka["image"] == "apache/kafka:4.1.1"
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"

    def test_gateway_waits_for_a_healthy_kafka(self) -> None:
        """The gateway starts only once Kafka's healthcheck passes."""
        assert _service("kafka").get("healthcheck", {}).get("test")
        assert _service(GATEWAY_SERVICE)["depends_on"]["kafka"]["condition"] == "service_healthy"

    def test_gateway_reaches_kafka_on_an_advertised_listener(self) -> None:
        """The network file's bootstrap servers are a listener the broker advertises inside compose."""
        network = _yaml(DOCKER / "network.yaml")
        advertised = {urlsplit(url).netloc for url in _compose_env(_service("kafka"))["KAFKA_ADVERTISED_LISTENERS"]
                      .split(",")}
        for server in network["kafka"]["bootstrap_servers"].split(","):
            assert server in advertised, f"{server} is not one of the advertised listeners {sorted(advertised)}"

    def test_broker_accepts_the_largest_declaration(self) -> None:
        """Kafka's message.max.bytes is at least the gateway's max_message_bytes, so big declarations publish."""
        network = _yaml(DOCKER / "network.yaml")
        limit = network.get("gateway", {}).get("max_message_bytes", DEFAULT_MAX_MESSAGE_BYTES)
        assert int(_compose_env(_service("kafka")).get("KAFKA_MESSAGE_MAX_BYTES", 1048588)) >= limit

    def test_every_http_adapter_points_at_its_members_simulator(self) -> None:
        """Each adapter URL is a compose service simulating that member's system, on the port it listens on."""
        network = _yaml(DOCKER / "network.yaml")
        services = _compose()["services"]
        for code, member in network["members"].items():
            settings = member["adapter"].get("settings", {})
            if settings.get("mode") == "hotfolder":
                continue
            url = urlsplit(settings.get("url", ""))
            assert url.hostname in services, f"members.{code}: URL host {url.hostname!r} is not a compose service"
            command = services[url.hostname]["command"]
            adapter = member["adapter"]["name"]
            assert command[:2] == ["simulate", SIMULATOR_OF[adapter]], (
                f"members.{code}: {url.hostname} runs {command[:2]}, not the simulator of {adapter}")
            assert _option(command, "--member") == code
            assert url.port == int(_option(command, "--port") or 0), f"members.{code}: {url.hostname} listens elsewhere"

    def test_every_hot_folder_is_a_volume_shared_with_the_simulator(self) -> None:
        """A hot-folder member's inbox and outbox are on a named volume shared by delivery and its simulator."""
        network = _yaml(DOCKER / "network.yaml")
        simulators = {_option(svc["command"], "--member"): svc for svc in _our_image_services().values()
                      if svc["command"][0] == "simulate"}
        for code, member in network["members"].items():
            settings = member["adapter"].get("settings", {})
            if settings.get("mode") != "hotfolder":
                continue
            simulator = simulators.get(code)
            assert simulator, f"members.{code}: no compose service simulates {code}"
            root = _option(simulator["command"], "--hotfolder")
            assert root, f"the simulator of {code} watches no hot folder (--hotfolder)"
            folders = settings["hotfolder"]
            assert (folders["inbox"], folders["outbox"]) == (f"{root}/inbox", f"{root}/outbox")
            shared = _named_volume(simulator, root)
            assert shared and shared == _named_volume(_service(DELIVERY_SERVICE), root), (
                f"members.{code}: {root} is not one named volume in both the simulator and {DELIVERY_SERVICE}")
            assert shared in _compose()["volumes"]

    def test_simulators_run_the_gateway_image(self) -> None:
        """The simulators are the gateway image running `simulate` on 0.0.0.0, with a healthcheck of their own."""
        simulators = {n: s for n, s in _our_image_services().items() if s["command"][0] == "simulate"}
        assert {"asycuda-fj", "asycuda-ws", "wco-nz"} <= set(simulators)
        for name, svc in simulators.items():
            assert "/healthz" not in json.dumps(svc["healthcheck"]), f"{name} would inherit the gateway's probe"
            assert _option(svc["command"], "--host") == "0.0.0.0", f"{name} listens on loopback only (the default)"

    def test_no_service_waits_behind_a_profile(self) -> None:
        """A plain `up` starts every service: the simulators exist now, and delivery needs them."""
        gated = sorted(name for name, svc in _compose()["services"].items() if svc.get("profiles"))
        assert not gated, f"services started only with --profile: {gated}"

    def test_prometheus_mounts_the_rules_folder(self) -> None:
        """Prometheus mounts docker/prometheus/, where its config and rules.yml live."""
        mounts = {v.split(":")[1]: v.split(":")[0] for v in _service("prometheus")["volumes"]}
        assert (DOCKER / mounts["/etc/prometheus"]).resolve() == PROMETHEUS

    @pytest.mark.parametrize(("service", "deployment"), [(GATEWAY_SERVICE, JOB), (DELIVERY_SERVICE, DELIVERY_JOB)])
    def test_stop_grace_matches_kubernetes(self, service: str, deployment: str) -> None:
        """Compose gives the gateway and the delivery workers as long to shut down as Kubernetes does."""
        grace = _service(service)["stop_grace_period"]
        assert int(grace.removesuffix("s")) == _pod_spec(deployment)["terminationGracePeriodSeconds"]


class TestComposeDelivery:
    def test_runs_deliver_with_the_gateways_network_file(self) -> None:
        """The delivery service runs `deliver` from the image with the same network file and OCO_CONFIG."""
        delivery, gateway = _service(DELIVERY_SERVICE), _service(GATEWAY_SERVICE)
        assert delivery["image"] == gateway["image"]
        assert delivery["command"][0] == "deliver"
        assert _compose_env(delivery).get("OCO_CONFIG", _image_env()["OCO_CONFIG"]) == _compose_config_path()
        config_mounts = [v for v in gateway["volumes"] if v.split(":")[1] == _compose_config_path()]
        assert set(config_mounts) <= set(delivery["volumes"])

    def test_waits_for_a_healthy_kafka(self) -> None:
        """The delivery workers start only once Kafka's healthcheck passes."""
        assert _service(DELIVERY_SERVICE)["depends_on"]["kafka"]["condition"] == "service_healthy"

    def test_has_its_own_metrics_port(self) -> None:
        """Delivery serves on a port of its own, publishes it, and its healthcheck asks /healthz there."""
        port = _compose_delivery_port()
        gateway_port = int(_yaml(DOCKER / "network.yaml").get("metrics", {}).get("port", DEFAULT_METRICS_PORT))
        delivery = _service(DELIVERY_SERVICE)
        assert port != gateway_port
        assert any(str(p).endswith(f":{port}") for p in delivery["ports"]), f"port {port} is not published"
        assert f":{port}/healthz" in json.dumps(delivery["healthcheck"]), "the healthcheck asks another port"

    def test_prometheus_scrapes_delivery_on_its_port(self) -> None:
        """prometheus.yml has the delivery job the rules select, finding the delivery service on its port."""
        sd = _scrape_jobs()[DELIVERY_JOB]["dns_sd_configs"][0]
        assert DELIVERY_SERVICE in sd["names"]
        assert sd["port"] == _compose_delivery_port() == _k8s_delivery_port()


class TestEnvironment:
    def test_manifests_set_only_oco_variables(self) -> None:
        """Every variable given to a gateway-image container, in compose or Kubernetes, starts with OCO_."""
        names = set(_k8s_env()) | set(_k8s_env(DELIVERY_JOB))
        for svc in _our_image_services().values():
            names |= set(_compose_env(svc))
        stray = sorted(name for name in names if not name.startswith("OCO_"))
        assert not stray, f"variables without the OCO_ prefix are ignored by the gateway: {stray}"

    def test_env_configmaps_exist(self) -> None:
        """Every ConfigMap the container takes variables from is part of the kustomization."""
        assert _env_configmaps()


class TestSecrets:
    """Kafka credentials: per process, from Secrets, never from a ConfigMap or the network file."""

    def test_no_configmap_holds_a_password(self) -> None:
        """No ConfigMap key names a password, and no network file carries one."""
        for doc in yaml.safe_load_all((K8S / "configmap.yaml").read_text(encoding="utf-8")):
            for key, value in (doc.get("data") or {}).items():
                assert "PASSWORD" not in key.upper() or key.upper().endswith("_FILE"), f"{key} in a ConfigMap"
                assert "password:" not in str(value), f"a password in ConfigMap {doc['metadata']['name']}/{key}"
        for where, text in _network_files().items():
            assert "password:" not in text, f"a password in the {where} network file"

    @pytest.mark.parametrize(("deployment", "identity"), [(JOB, "oco-gateway"), (DELIVERY_JOB, "oco-delivery")])
    def test_each_process_has_its_own_identity_and_secret(self, deployment: str, identity: str) -> None:
        """The gateway and the delivery workers log in as their own identity, the password from a Secret key."""
        env = {item["name"]: item for item in _container(deployment).get("env", [])}
        assert env["OCO_KAFKA__USERNAME"]["value"] == identity
        ref = env["OCO_KAFKA__PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == identity and ref["name"]

    def test_kubernetes_runs_production_over_sasl_ssl(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The pods run with environment production on SASL_SSL, which the gateway accepts without exceptions."""
        from gateway.config import load_settings

        env = _k8s_env()
        assert env["OCO_ENVIRONMENT"] == "production" and env["OCO_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
        assert "OCO_KAFKA__ALLOW_INSECURE" not in env
        for key in [k for k in os.environ if k.startswith("OCO_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key != "OCO_CONFIG":
                monkeypatch.setenv(key, value)
        path = tmp_path / "network.yaml"
        path.write_text(_network_files()["kubernetes"], encoding="utf-8")
        assert load_settings(path).kafka.secure_enough() is None

    @pytest.mark.parametrize("service", [GATEWAY_SERVICE, DELIVERY_SERVICE])
    def test_compose_says_its_plaintext_kafka_is_allowed(self, service: str, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
        """The image defaults to production; compose's one-machine PLAINTEXT Kafka is accepted only because the
        services say so explicitly."""
        from gateway.config import load_settings

        assert _image_env()["OCO_ENVIRONMENT"] == "production"
        for key in [k for k in os.environ if k.startswith("OCO_")]:
            monkeypatch.delenv(key)
        for key, value in {**_image_env(), **_compose_env(_service(service))}.items():
            if key.startswith("OCO_") and key not in ("OCO_CONFIG", "OCO_PROFILES_DIR"):
                monkeypatch.setenv(key, value)
        path = tmp_path / "network.yaml"
        path.write_text(_network_files()["compose"], encoding="utf-8")
        assert load_settings(path).kafka.allow_insecure


class TestKustomization:
    def test_lists_only_files_that_exist(self) -> None:
        """Every resource kustomization.yaml lists is a file in k8s/base/."""
        missing = [name for name in _kustomization()["resources"] if not (K8S / name).is_file()]
        assert not missing

    def test_lists_every_manifest(self) -> None:
        """No manifest in k8s/base/ is forgotten by the kustomization."""
        manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        assert manifests == set(_kustomization()["resources"])

    def test_namespace_is_the_one_created(self) -> None:
        """The kustomization's namespace is the Namespace namespace.yaml creates."""
        assert _kustomization()["namespace"] == _k8s("Namespace")["metadata"]["name"]

    def test_image_override_names_the_deployment_image(self) -> None:
        """The images: entry targets the image both Deployments run, so an overlay's tag takes effect."""
        names = {image["name"] for image in _kustomization().get("images", [])}
        for deployment in (JOB, DELIVERY_JOB):
            assert _container(deployment)["image"].split(":")[0] in names


class TestDeployment:
    def test_probe_ports_match_container_and_service_ports(self) -> None:
        """Every probe, the container port and the Service's targetPort are one and the same port."""
        container_ports = {p["containerPort"] for p in _container()["ports"]}
        probe_ports = {_port_number(_container()[probe]["httpGet"]["port"])
                       for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
        target_ports = {_port_number(p["targetPort"]) for p in _k8s("Service", JOB)["spec"]["ports"]}
        assert probe_ports == container_ports == target_ports

    def test_probes_use_the_health_endpoints(self) -> None:
        """Liveness and startup ask /healthz; readiness asks /readyz."""
        container = _container()
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    def test_container_is_locked_down(self) -> None:
        """The container runs non-root on a read-only root filesystem with every capability dropped."""
        security = _container()["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]

    def test_runs_as_the_images_user(self) -> None:
        """The pod's runAsUser is the UID the Dockerfile creates."""
        assert _pod_spec()["securityContext"]["runAsUser"] == _image_uid()

    def test_tmp_is_writable(self) -> None:
        """/tmp is an emptyDir, the one writable place on the read-only root filesystem."""
        mount = _mount_serving("/tmp/x")
        volume = next(v for v in _pod_spec()["volumes"] if v["name"] == mount["name"])
        assert "emptyDir" in volume

    def test_config_file_comes_from_the_network_configmap(self) -> None:
        """OCO_CONFIG names a file that a ConfigMap volume provides."""
        assert "participants:" in _k8s_network_text()

    def test_replicas_do_not_exceed_partitions(self) -> None:
        """There are no more replicas than partitions per submit topic, or the extra ones would idle."""
        network = yaml.safe_load(_k8s_network_text())
        partitions = int(_k8s_env().get("OCO_KAFKA__PARTITIONS")
                         or network.get("kafka", {}).get("partitions", DEFAULT_PARTITIONS))
        assert 2 <= _k8s("Deployment", JOB)["spec"]["replicas"] <= partitions

    def test_topology_spread_selects_its_own_pods(self) -> None:
        """The gateway's pods spread over zones and nodes, counting the gateway's own pods by labels they carry."""
        labels = _pod_labels(JOB)
        spread = _pod_spec()["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        for constraint in spread:
            assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()

    def test_selectors_match_the_pods(self) -> None:
        """The Deployment, Service and PodDisruptionBudget all select the gateway pods' labels."""
        deployment = _k8s("Deployment", JOB)
        labels = _pod_labels(JOB)
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert _k8s("Service", JOB)["spec"]["selector"].items() <= labels.items()
        assert _k8s("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def test_servicemonitor_scrapes_the_service_port(self) -> None:
        """The ServiceMonitor selects the Service and scrapes its named metrics port."""
        service = _k8s("Service", JOB)
        monitor = _k8s("ServiceMonitor", JOB)
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        port_names = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names

    def test_service_name_is_the_prometheus_job(self) -> None:
        """The Service is named after the job the rules select, the job label prometheus-operator derives."""
        assert _k8s("Service", JOB)["metadata"]["name"] == JOB
        assert "jobLabel" not in _k8s("ServiceMonitor", JOB)["spec"]


class TestDeliveryDeployment:
    def test_runs_deliver_from_the_gateway_image(self) -> None:
        """The delivery Deployment runs `deliver` from the same image as the gateway."""
        assert _container(DELIVERY_JOB)["args"][0] == "deliver"
        assert _container(DELIVERY_JOB)["image"] == _container(JOB)["image"]

    def test_runs_one_replica_never_two_at_once(self) -> None:
        """One replica, replaced with Recreate: rate limits and circuit breakers are per process."""
        spec = _k8s("Deployment", DELIVERY_JOB)["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"]["type"] == "Recreate"

    def test_probe_ports_match_the_deliver_port_and_service(self) -> None:
        """Every probe, the container port and the Service's targetPort are the port `deliver` serves on."""
        container = _container(DELIVERY_JOB)
        probe_ports = {_port_number(container[probe]["httpGet"]["port"], DELIVERY_JOB)
                       for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
        container_ports = {p["containerPort"] for p in container["ports"]}
        target_ports = {_port_number(p["targetPort"], DELIVERY_JOB)
                        for p in _k8s("Service", DELIVERY_JOB)["spec"]["ports"]}
        assert probe_ports == container_ports == target_ports == {_k8s_delivery_port()}

    def test_probes_use_the_health_endpoints(self) -> None:
        """Liveness and startup ask /healthz; readiness asks /readyz."""
        container = _container(DELIVERY_JOB)
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"

    def test_is_locked_down_like_the_gateway(self) -> None:
        """Pod and container security contexts are the gateway's: non-root, read-only, no capabilities."""
        assert _pod_spec(DELIVERY_JOB)["securityContext"] == _pod_spec(JOB)["securityContext"]
        assert _container(DELIVERY_JOB)["securityContext"] == _container(JOB)["securityContext"]
        assert _pod_spec(DELIVERY_JOB)["automountServiceAccountToken"] is False

    def test_reads_the_gateways_configuration(self) -> None:
        """Same environment ConfigMaps (only the Kafka identity differs), same network file, a writable /tmp."""
        def shared(env: dict[str, str]) -> dict[str, str]:
            return {key: value for key, value in env.items() if key != "OCO_KAFKA__USERNAME"}

        assert shared(_k8s_env(DELIVERY_JOB)) == shared(_k8s_env(JOB))
        assert _k8s_network_text(DELIVERY_JOB) == _k8s_network_text(JOB)
        mount = _mount_serving("/tmp/x", DELIVERY_JOB)
        volume = next(v for v in _pod_spec(DELIVERY_JOB)["volumes"] if v["name"] == mount["name"])
        assert "emptyDir" in volume

    def test_selectors_keep_gateway_and_delivery_pods_apart(self) -> None:
        """Each Deployment, Service and PDB selects its own pods only, so no controller adopts the other's."""
        gateway, delivery = _pod_labels(JOB), _pod_labels(DELIVERY_JOB)
        own = {
            JOB: [_k8s("Deployment", JOB)["spec"]["selector"]["matchLabels"], _k8s("Service", JOB)["spec"]["selector"],
                  _k8s("PodDisruptionBudget")["spec"]["selector"]["matchLabels"]],
            DELIVERY_JOB: [_k8s("Deployment", DELIVERY_JOB)["spec"]["selector"]["matchLabels"],
                           _k8s("Service", DELIVERY_JOB)["spec"]["selector"]],
        }
        for selector in own[JOB]:
            assert _selects(selector, gateway) and not _selects(selector, delivery), selector
        for selector in own[DELIVERY_JOB]:
            assert _selects(selector, delivery) and not _selects(selector, gateway), selector

    def test_service_is_named_after_the_delivery_job(self) -> None:
        """The delivery Service is named after the job the delivery alerts select; its ServiceMonitor scrapes it."""
        service = _k8s("Service", DELIVERY_JOB)
        monitor = _k8s("ServiceMonitor", DELIVERY_JOB)
        assert service["metadata"]["name"] == DELIVERY_JOB
        assert "jobLabel" not in monitor["spec"]
        assert _selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        gateway_monitor = _k8s("ServiceMonitor", JOB)
        assert not _selects(gateway_monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}


class TestPrometheusConfig:
    def test_scrapes_the_gateway_job_on_the_metrics_port(self) -> None:
        """prometheus.yml has the job the rules select, finding the compose gateway on port 9464."""
        jobs = _scrape_jobs()
        assert JOB in jobs
        sd = jobs[JOB]["dns_sd_configs"][0]
        assert GATEWAY_SERVICE in sd["names"]
        assert sd["port"] == _container()["ports"][0]["containerPort"]

    def test_rule_files_exist(self) -> None:
        """Every rule file prometheus.yml loads is in docker/prometheus/."""
        for name in _yaml(PROMETHEUS / "prometheus.yml")["rule_files"]:
            assert (PROMETHEUS / name).is_file()


class TestAlertRules:
    def test_every_alert_has_summary_description_and_runbook(self) -> None:
        """Each alert tells the operator what fired, what it means and where the runbook is."""
        for alert in _alerts():
            missing = {"summary", "description", "runbook_url"} - set(alert.get("annotations", {}))
            assert not missing, f"{alert['alert']} lacks annotations {sorted(missing)}"

    def test_runbooks_point_to_sections_of_the_operations_doc(self) -> None:
        """Each runbook_url is docs/operations.md#<anchor> and that heading exists."""
        anchors = _github_anchors(OPERATIONS.read_text(encoding="utf-8"))
        for alert in _alerts():
            doc, _, anchor = alert["annotations"]["runbook_url"].partition("#")
            assert doc == "docs/operations.md" and anchor in anchors, f"{alert['alert']}: no section {anchor!r}"

    def test_every_alert_has_a_known_severity(self) -> None:
        """Each alert is labelled severity warning or critical, which routing relies on."""
        for alert in _alerts():
            assert alert.get("labels", {}).get("severity") in {"warning", "critical"}, alert["alert"]

    def test_every_alert_selects_its_job(self) -> None:
        """Each alert selects the gateway's or the delivery workers' job, whichever exports what it reads; the
        lag watch's series (both processes export them) select both."""
        both = f'job=~"{JOB}|{DELIVERY_JOB}"'
        for alert in _alerts():
            if "oco_gateway_kafka_" in alert["expr"] or "oco_gateway_consumer_" in alert["expr"]:
                assert both in alert["expr"] and 'job="' not in alert["expr"], f"{alert['alert']} must select {both}"
                continue
            jobs = set(re.findall(r'job="([^"]*)"', alert["expr"]))
            assert jobs and jobs <= {JOB, DELIVERY_JOB}, f"{alert['alert']} selects jobs {sorted(jobs)}"
            if "oco_gateway_delivery_" in alert["expr"] or alert["alert"].startswith("OcoGatewayDelivery"):
                assert jobs == {DELIVERY_JOB}, f"{alert['alert']} reads the delivery workers: job={DELIVERY_JOB!r}"
            else:
                assert jobs == {JOB}, f"{alert['alert']} reads the gateway: job={JOB!r}"

    def test_every_alert_is_tested_firing_and_quiet(self) -> None:
        """rules_test.yml has, for each alert, a case where it fires and one where it must not."""
        cases = [case for test in _yaml(PROMETHEUS / "rules_test.yml")["tests"]
                 for case in test.get("alert_rule_test", [])]
        for alert in _alerts():
            mine = [case for case in cases if case["alertname"] == alert["alert"]]
            assert any(case["exp_alerts"] for case in mine), f"no test makes {alert['alert']} fire"
            assert any(not case["exp_alerts"] for case in mine), f"no test keeps {alert['alert']} quiet"

    def test_rules_use_only_metrics_the_gateway_exports(self) -> None:
        """Every oco_gateway_* series a rule reads is declared in gateway/ops/metrics.py."""
        exported = _exported_metrics()
        for group in _rules()["groups"]:
            for rule in group["rules"]:
                for name in re.findall(r"(?<![\w:])oco_gateway_\w+(?![\w:])", rule["expr"]):
                    base = re.sub(r"_(bucket|sum|count)$", "", name)
                    assert name in exported or exported.get(base) == "histogram", (
                        f"{rule.get('alert') or rule.get('record')} reads {name}, which the gateway does not export")

    def test_kubernetes_prometheusrule_matches_the_rules_file(self) -> None:
        """k8s/base/prometheusrule.yaml carries exactly the groups of docker/prometheus/rules.yml."""
        assert _k8s("PrometheusRule")["spec"] == _rules(), (
            "k8s/base/prometheusrule.yaml is out of date: edit docker/prometheus/rules.yml, then run `make k8s-rules`")


class TestOperationsDoc:
    def test_documents_every_metric(self) -> None:
        """docs/operations.md names every metric the gateway exports."""
        text = OPERATIONS.read_text(encoding="utf-8")
        assert not [name for name in _exported_metrics() if name not in text]

    def test_documents_every_delivery_setting_with_its_default(self) -> None:
        """docs/operations.md has a row per members.<CODE>.delivery key, giving its default."""
        from gateway.config import DeliverySettings

        rows = [line for line in OPERATIONS.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
        for name, field in DeliverySettings.model_fields.items():
            mine = [row for row in rows if f"delivery.{name}`" in row]
            assert mine, f"no row documents members.<CODE>.delivery.{name}"
            assert f"| {field.default:g} |" in mine[0], f"delivery.{name}: no default {field.default:g} in {mine[0]}"

    def test_documents_every_dead_letter_header(self) -> None:
        """docs/operations.md names every header the gateway puts on a dead letter."""
        from gateway import headers

        text = OPERATIONS.read_text(encoding="utf-8")
        names = [getattr(headers, attr) for attr in headers.__all__ if attr.startswith("DLQ_")]
        assert names and not [name for name in names if name not in text]

    def test_documents_every_environment_override(self) -> None:
        """docs/operations.md names the OCO_ variable of every scalar setting the gateway reads."""
        from pydantic import BaseModel

        from gateway.config import GatewaySettings

        text = OPERATIONS.read_text(encoding="utf-8")
        expected = []
        for name, field in GatewaySettings.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                expected += [f"OCO_{name}__{sub}".upper() for sub in field.annotation.model_fields]
            elif name not in {"participants", "members"}:
                expected.append(f"OCO_{name}".upper())
        assert not [variable for variable in expected if variable not in text]
