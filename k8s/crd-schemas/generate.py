"""Write the JSON schemas of the custom resources the manifests use, for the offline validation test.

The schemas come from the pydantic models that the cloudcoil packages on PyPI generate from KEDA's and
prometheus-operator's published CRDs (``cloudcoil-models-keda`` for KEDA 2.16.1,
``cloudcoil-models-prometheus-operator`` for prometheus-operator 0.80.1). Unknown fields are made errors, as
the API server's structural schemas make them (pruned, and refused by ``kubectl apply --validate=strict``).
Run it only to move to newer CRDs, in a throwaway environment, and commit what it writes::

    python3 -m venv /tmp/crd && /tmp/crd/bin/pip install cloudcoil-models-keda==2.16.1.0 \\
        cloudcoil-models-prometheus-operator==0.80.1.0
    /tmp/crd/bin/python k8s/crd-schemas/generate.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _strict(node: Any) -> Any:
    """Drop titles and null defaults, and refuse properties an object schema does not declare."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items() if key != "title"}
        if node.get("default", 0) is None:
            del node["default"]
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def main() -> None:
    """Write one ``<kind>-<group>-<version>.json`` per custom resource kind the manifests use."""
    from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor

    sources = {
        "cloudcoil-models-keda": [(ScaledObject, "keda.sh/v1alpha1"), (TriggerAuthentication, "keda.sh/v1alpha1")],
        "cloudcoil-models-prometheus-operator": [(ServiceMonitor, "monitoring.coreos.com/v1"),
                                                 (PrometheusRule, "monitoring.coreos.com/v1")],
    }
    for package, kinds in sources.items():
        for model, api_version in kinds:
            schema = _strict(model.model_json_schema(by_alias=True, mode="validation"))
            schema["$comment"] = f"{api_version} {model.__name__}, from {package} {version(package)}"
            group, _, ver = api_version.partition("/")
            path = HERE / f"{model.__name__.lower()}-{group.split('.')[0]}-{ver}.json"
            path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(path.relative_to(HERE.parents[1]))


if __name__ == "__main__":
    main()
