"""Every Kubernetes overlay renders with kustomize and validates offline, and what it renders holds together.

kustomize (`make test` and `make test-unit` build the pinned version into the venv) renders each folder of k8s/overlays/; every
object is then checked against the Kubernetes API schemas of K8S_VERSION (kubernetes-validate, strict: an
unknown field is an error), and the custom resources against the CRD schemas vendored in k8s/crd-schemas/.
A missing tool fails the tests: it is never a reason to skip them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
CRD_SCHEMAS = K8S / "crd-schemas"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
K8S_VERSION = "1.33.0"  # the oldest Kubernetes the manifests are written for (KEDA 2.x needs 1.30+)
NAMESPACE = "oco"
GATEWAY, DELIVERY = "oco-gateway", "oco-gateway-delivery"
CLUSTER_SCOPED = {"Namespace"}

Objects = list[dict[str, Any]]


def _kustomize() -> str:
    beside_python = Path(sys.executable).parent / "kustomize"
    found = str(beside_python) if beside_python.is_file() else shutil.which("kustomize")
    if not found:
        pytest.fail("kustomize is not installed: `make test-unit` (or `make test`) builds it into .venv/bin (it needs Go 1.22+)")
    return found


def _secret_files(folder: str, names: list[str]) -> list[str]:
    """Leave out of the copy every file of a secrets/ folder but its README."""
    return [name for name in names if name != "README.md"] if Path(folder).name == "secrets" else []


def _placeholder_secret_files(tree: Path) -> None:
    """Write a stand-in for every secretGenerator file that is not in the tree (git ignores real ones)."""
    for kustomization in tree.rglob("kustomization.yaml"):
        for generator in yaml.safe_load(kustomization.read_text(encoding="utf-8")).get("secretGenerator", []):
            for entry in generator.get("files", []):
                path = kustomization.parent / entry.rpartition("=")[2]
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(f"placeholder-for-{path.name}", encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Objects]:
    """Render every overlay from a copy of k8s/ (the dev overlay's secret files are stand-ins)."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree, ignore=_secret_files)  # no real dev password leaves k8s/
    _placeholder_secret_files(tree)
    kustomize = _kustomize()
    out: dict[str, Objects] = {}
    for overlay in OVERLAYS:
        result = subprocess.run([kustomize, "build", str(tree / "overlays" / overlay)], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"kustomize build overlays/{overlay} failed:\n{result.stderr}"
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def _crd_schemas() -> dict[str, dict[str, Any]]:
    """Return the vendored schemas by "apiVersion Kind" (their $comment starts with it)."""
    schemas = {}
    for path in CRD_SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas[schema["$comment"].split(",")[0]] = schema
    return schemas


def _problems(obj: dict[str, Any]) -> list[str]:
    """Return what is wrong with one object, against the Kubernetes or the vendored CRD schema."""
    key = f"{obj['apiVersion']} {obj['kind']}"
    crd = _crd_schemas().get(key)
    if crd is not None:
        return [f"{'.'.join(map(str, e.path))}: {e.message}"
                for e in jsonschema.Draft202012Validator(crd).iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    except SchemaNotFoundError:
        return [f"no schema for {key}: vendor its CRD schema in k8s/crd-schemas/ (generate.py)"]
    return []


def _find(objects: Objects, kind: str, name: str | None = None) -> dict[str, Any]:
    """Return the one object of a kind (and name, a generated one's hash suffix aside)."""
    found = [o for o in objects if o["kind"] == kind
             and (name is None or re.fullmatch(rf"{re.escape(name)}(-[a-z0-9]{{10}})?", o["metadata"]["name"]))]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def _env(objects: Objects) -> dict[str, str]:
    return {k: str(v) for k, v in _find(objects, "ConfigMap", "oco-gateway-env")["data"].items()}


def _pod_spec(objects: Objects, deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = _find(objects, "Deployment", deployment)["spec"]["template"]["spec"]
    return spec


def _container_env(objects: Objects, deployment: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _pod_spec(objects, deployment)["containers"][0].get("env", [])}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Tell whether a label selector (matchLabels and In/NotIn/Exists expressions) selects these labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        ok = {"In": value in expr.get("values", []), "NotIn": value not in expr.get("values", []),
              "Exists": value is not None, "DoesNotExist": value is None}[expr["operator"]]
        if not ok:
            return False
    return True


def _policies_for(objects: Objects, deployment: str, kind: str) -> list[dict[str, Any]]:
    labels = _find(objects, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return [p for p in objects if p["kind"] == "NetworkPolicy" and kind in p["spec"]["policyTypes"]
            and _selects(p["spec"]["podSelector"], labels)]


def _secret_refs(objects: Objects) -> set[str]:
    """Return the names of every Secret the rendered objects refer to."""
    names: set[str] = set()
    for obj in objects:
        if obj["kind"] == "Deployment":
            spec = obj["spec"]["template"]["spec"]
            for container in spec["containers"]:
                names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                          if "secretKeyRef" in e.get("valueFrom", {})}
            names |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        if obj["kind"] == "TriggerAuthentication":
            names |= {ref["name"] for ref in obj["spec"].get("secretTargetRef", [])}
    return names


def _secret_data(objects: Objects, name: str) -> dict[str, str]:
    secret = _find(objects, "Secret", name)
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


class TestRender:
    def test_there_are_dev_and_production_overlays(self) -> None:
        """k8s/overlays has at least the dev and the production overlay, each a kustomization."""
        assert {"dev", "production"} <= set(OVERLAYS)

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_every_object_validates(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """Every rendered object passes its Kubernetes (strict) or vendored CRD schema; none is unknown."""
        problems = {f"{o['kind']}/{o['metadata']['name']}": _problems(o) for o in rendered[overlay]}
        assert not {k: v for k, v in problems.items() if v}, f"overlays/{overlay}: {problems}"

    def test_validation_refuses_a_misspelt_field(self, rendered: dict[str, Objects]) -> None:
        """The validation is strict: a misspelt field in a Deployment or a ScaledObject is an error."""
        objects = rendered["production"]
        deployment = json.loads(json.dumps(_find(objects, "Deployment", GATEWAY)))
        deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
        scaled = json.loads(json.dumps(_find(objects, "ScaledObject", GATEWAY)))
        scaled["spec"]["maxReplicasCount"] = 3
        assert _problems(deployment) and _problems(scaled)

    def test_crd_schemas_name_their_source(self) -> None:
        """Each vendored schema says which resource it checks and which published package it came from."""
        schemas = _crd_schemas()
        assert {"keda.sh/v1alpha1 ScaledObject", "keda.sh/v1alpha1 TriggerAuthentication",
                "monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule"} <= set(schemas)
        for key, schema in schemas.items():
            assert re.search(r", from cloudcoil-models-\S+ \d", schema["$comment"]), key

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_every_object_is_in_the_namespace(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """Every namespaced object lands in the oco namespace, components' objects included."""
        stray = [f"{o['kind']}/{o['metadata']['name']}" for o in rendered[overlay]
                 if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != NAMESPACE]
        assert not stray, f"overlays/{overlay}: outside {NAMESPACE}: {stray}"


class TestSecrets:
    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_no_configmap_holds_a_secret(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """No rendered ConfigMap has a key or a value naming a password, an API key or a token."""
        for configmap in (o for o in rendered[overlay] if o["kind"] == "ConfigMap"):
            for key, value in configmap.get("data", {}).items():
                assert not re.search(r"password|api.?key|token|secret", key, re.I) or key.upper().endswith("_FILE")
                assert not re.search(r"^\s*(password|api[_-]?key|token)\s*:", str(value), re.I | re.M), (
                    f"overlays/{overlay}: a secret in ConfigMap {configmap['metadata']['name']}/{key}")

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_every_secret_is_rendered_or_listed_for_creation(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """Each Secret the pods or KEDA read is generated by the overlay or named in its instructions."""
        objects = rendered[overlay]
        generated = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
        instructions = (K8S / "overlays" / overlay / "kustomization.yaml").read_text(encoding="utf-8")
        missing = sorted(name for name in _secret_refs(objects) - generated if name not in instructions)
        assert not missing, f"overlays/{overlay} reads Secrets it neither renders nor tells to create: {missing}"

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_processes_log_in_as_their_own_identity(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """The gateway and the delivery workers each take their own key of the Kafka credentials Secret."""
        for deployment, identity in ((GATEWAY, "oco-gateway"), (DELIVERY, "oco-delivery")):
            env = _container_env(rendered[overlay], deployment)
            assert env["OCO_KAFKA__USERNAME"]["value"] == identity
            assert env["OCO_KAFKA__PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == identity

    def test_national_credentials_reach_only_the_delivery_workers(self, rendered: dict[str, Objects]) -> None:
        """The national systems' Secret is mounted read-only in the delivery pods and not in the gateway's."""
        for overlay, objects in rendered.items():
            delivery = [v for v in _pod_spec(objects, DELIVERY)["volumes"] if "secret" in v]
            assert [v["secret"]["secretName"] for v in delivery] == ["oco-national-credentials"], overlay
            assert not [v for v in _pod_spec(objects, GATEWAY)["volumes"] if "secret" in v], overlay
            mounts = _pod_spec(objects, DELIVERY)["containers"][0]["volumeMounts"]
            assert all(m["readOnly"] for m in mounts if m["name"] == delivery[0]["name"])

    def test_dev_secret_files_are_ignored_by_git(self) -> None:
        """The dev overlay's password files are ignored by git, so none is committed by accident."""
        result = subprocess.run(["git", "check-ignore", "-q", "k8s/overlays/dev/secrets/oco-gateway"], cwd=ROOT)
        assert result.returncode == 0


class TestProduction:
    def test_runs_production_over_sasl_ssl(self, rendered: dict[str, Objects]) -> None:
        """Production runs with environment production on SASL_SSL, and does not allow less."""
        env = _env(rendered["production"])
        assert env["OCO_ENVIRONMENT"] == "production" and env["OCO_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
        assert "OCO_KAFKA__ALLOW_INSECURE" not in env

    @pytest.mark.parametrize("overlay", OVERLAYS)
    @pytest.mark.parametrize("deployment", [GATEWAY, DELIVERY])
    def test_network_file_and_environment_load(self, overlay: str, deployment: str, rendered: dict[str, Objects],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each overlay's network file, with each process's environment, passes the gateway's own start-up checks,
        and the delivery workers' adapters accept their settings."""
        import asyncio

        from gateway.config import load_settings
        from gateway.delivery.service import DeliveryService

        objects = rendered[overlay]
        env = _env(objects)
        for name, item in _container_env(objects, deployment).items():
            env[name] = str(item.get("value", f"<{name} from a Secret or the downward API>"))
        for key in [k for k in os.environ if k.startswith("OCO_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key != "OCO_CONFIG":
                monkeypatch.setenv(key, value)
        path = tmp_path / "network.yaml"
        path.write_text(_find(objects, "ConfigMap", "oco-gateway-network")["data"]["network.yaml"], encoding="utf-8")
        settings = load_settings(path)
        assert settings.members
        assert settings.environment != "production" or settings.kafka.secure_enough() is None  # else it exits 2
        if deployment == DELIVERY:
            service = DeliveryService(settings)
            try:
                assert sorted(w.member for w in service.workers) == sorted(
                    code for code, member in settings.members.items() if member.adapter)
            finally:
                for worker in service.workers:
                    asyncio.run(worker.adapter.aclose())


class TestKeda:
    def test_scales_the_gateway_between_two_and_the_partition_count(self, rendered: dict[str, Objects]) -> None:
        """The ScaledObject targets the gateway Deployment, from 2 replicas up to one per submit partition."""
        objects = rendered["production"]
        scaled = _find(objects, "ScaledObject", GATEWAY)["spec"]
        assert scaled["scaleTargetRef"]["name"] == GATEWAY
        assert scaled.get("scaleTargetRef", {}).get("kind", "Deployment") == "Deployment"
        assert 2 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] == int(_env(objects)["OCO_KAFKA__PARTITIONS"])

    def test_gateway_deployment_leaves_the_replica_count_to_keda(self, rendered: dict[str, Objects]) -> None:
        """Where KEDA scales the gateway, its Deployment sets no replicas that an apply would reset."""
        for overlay, objects in rendered.items():
            has_keda = any(o["kind"] == "ScaledObject" for o in objects)
            assert ("replicas" in _find(objects, "Deployment", GATEWAY)["spec"]) != has_keda, overlay

    def test_trigger_reads_the_gateways_group_on_the_gateways_kafka(self, rendered: dict[str, Objects]) -> None:
        """The Kafka trigger watches kafka.group_id on the same bootstrap servers, never beyond the partitions."""
        objects = rendered["production"]
        env = _env(objects)
        (trigger,) = _find(objects, "ScaledObject", GATEWAY)["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == env["OCO_KAFKA__GROUP_ID"]
        assert trigger["metadata"]["bootstrapServers"] == env["OCO_KAFKA__BOOTSTRAP_SERVERS"]
        assert trigger["metadata"].get("allowIdleConsumers", "false") == "false"
        assert int(trigger["metadata"]["lagThreshold"]) > 0

    def test_logs_in_like_the_gateway(self, rendered: dict[str, Objects]) -> None:
        """KEDA's TriggerAuthentication uses the gateway's identity, password key, SASL mechanism and TLS."""
        objects = rendered["production"]
        env = _env(objects)
        (trigger,) = _find(objects, "ScaledObject", GATEWAY)["spec"]["triggers"]
        auth = _find(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]
        refs = {ref["parameter"]: ref for ref in auth["secretTargetRef"]}
        values = {p: _secret_data(objects, r["name"])[r["key"]] for p, r in refs.items() if p != "password"}
        gateway_env = _container_env(objects, GATEWAY)
        assert values["username"] == gateway_env["OCO_KAFKA__USERNAME"]["value"]
        password = gateway_env["OCO_KAFKA__PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (refs["password"]["name"], refs["password"]["key"]) == (password["name"], password["key"])
        assert values["sasl"] == env["OCO_KAFKA__SASL_MECHANISM"].lower().replace("-", "_").replace("_sha_", "_sha")
        assert (values["tls"] == "enable") == env["OCO_KAFKA__SECURITY_PROTOCOL"].endswith("SSL")


class TestNetworkPolicy:
    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_everything_is_denied_by_default(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """A policy selects every pod of the namespace for ingress and egress with no rule: deny by default."""
        deny = [p for p in rendered[overlay] if p["kind"] == "NetworkPolicy" and p["spec"]["podSelector"] == {}
                and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
                and not p["spec"].get("ingress") and not p["spec"].get("egress")]
        assert deny, f"overlays/{overlay} has no default-deny NetworkPolicy"

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_egress_is_dns_kafka_and_for_delivery_the_national_systems(self, overlay: str,
                                                                      rendered: dict[str, Objects]) -> None:
        """The gateway may reach DNS and Kafka's port only; the delivery workers also the national systems."""
        objects = rendered[overlay]
        kafka_ports = {int(s.rpartition(":")[2]) for s in _env(objects)["OCO_KAFKA__BOOTSTRAP_SERVERS"].split(",")}
        for deployment in (GATEWAY, DELIVERY):
            names = {p["metadata"]["name"] for p in _policies_for(objects, deployment, "Egress")}
            expected = {"oco-default-deny", "oco-dns", "oco-kafka"} | (
                {"oco-national-endpoints"} if deployment == DELIVERY else set())
            assert names == expected, f"overlays/{overlay}: {deployment} egress policies {sorted(names)}"
        kafka = _find(objects, "NetworkPolicy", "oco-kafka")["spec"]["egress"]
        assert {port["port"] for rule in kafka for port in rule["ports"]} == kafka_ports
        dns = _find(objects, "NetworkPolicy", "oco-dns")["spec"]["egress"]
        assert {port["port"] for rule in dns for port in rule["ports"]} == {53}

    def test_production_names_each_national_system(self, rendered: dict[str, Objects]) -> None:
        """Production's delivery workers may reach one address range per member with an adapter, nothing else."""
        objects = rendered["production"]
        network = yaml.safe_load(_find(objects, "ConfigMap", "oco-gateway-network")["data"]["network.yaml"])
        rules = _find(objects, "NetworkPolicy", "oco-national-endpoints")["spec"]["egress"]
        adapters = [m for m in network["members"].values() if m.get("adapter")]
        assert len(rules) == len(adapters)
        for rule in rules:
            assert rule["to"] and all("ipBlock" in peer for peer in rule["to"]) and rule["ports"]

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_only_prometheus_scrapes_the_metrics_port(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """Ingress is allowed on the named metrics port only, from one namespace."""
        objects = rendered[overlay]
        for deployment in (GATEWAY, DELIVERY):
            rules = [r for p in _policies_for(objects, deployment, "Ingress") for r in p["spec"].get("ingress", [])]
            assert rules and all(r["from"] and {p["port"] for p in r["ports"]} == {"metrics"} for r in rules)


class TestScheduling:
    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_gateway_spreads_over_zones_and_nodes(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """The gateway's pods spread over zones and nodes, counting only their own pods."""
        objects = rendered[overlay]
        labels = _find(objects, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
        spread = _pod_spec(objects, GATEWAY)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
        assert all(_selects(c["labelSelector"], labels) for c in spread)

    @pytest.mark.parametrize("overlay", OVERLAYS)
    def test_disruption_budget_keeps_the_gateway_consuming(self, overlay: str, rendered: dict[str, Objects]) -> None:
        """The PodDisruptionBudget selects the gateway's pods and lets at most one go at a time."""
        objects = rendered[overlay]
        pdb = _find(objects, "PodDisruptionBudget", GATEWAY)["spec"]
        labels = _find(objects, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
        assert _selects(pdb["selector"], labels) and pdb["maxUnavailable"] == 1
