# The two commands a newcomer needs: `make demo` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
KUSTOMIZE_VERSION := v5.7.1
KUSTOMIZE := $(VENV)/.kustomize-$(KUSTOMIZE_VERSION)

.PHONY: demo up down test test-unit fuzz bench install tools broker-start broker-stop clean k8s-rules

demo: $(STAMP) tools
	$(BIN)/oco-gateway demo

# The local network left running (Kafka, simulators, gateway, delivery), and stopped.
up: $(STAMP) tools
	$(BIN)/oco-gateway up

down: $(STAMP)
	$(BIN)/oco-gateway down

test: $(STAMP) tools $(KUSTOMIZE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP) $(KUSTOMIZE)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# The fuzz run on demand: the pipeline's properties over many more inputs than `make test` tries (FUZZ_EXAMPLES per
# property, 20000 by default), then libFuzzer through atheris when it is installed (FUZZ_RUNS inputs).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest tests/fuzz -q $(PYTEST_ARGS)
	@if $(BIN)/python -c 'import atheris' 2>/dev/null; then \
	  mkdir -p .state/fuzz-corpus && \
	  $(BIN)/python -m tests.fuzz.atheris_pipeline -runs=$${FUZZ_RUNS:-200000} -max_len=65536 .state/fuzz-corpus; \
	else echo "atheris is not installed ($(BIN)/pip install atheris): the coverage-guided run is skipped"; fi

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version)); set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# Real tools the tests use: promtool (Debian package prometheus), kcat, and Java + Maven for the Kafka broker.
# Installed only when missing. The tests also need kustomize (built below).
tools:
	@missing=""; command -v promtool >/dev/null || missing="$$missing prometheus"; \
	 command -v kcat >/dev/null || missing="$$missing kcat"; \
	 command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	 command -v mvn >/dev/null || missing="$$missing maven"; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; \
	   else echo "please install the Debian packages:$$missing"; exit 1; fi; \
	   echo "installing$$missing (apt)"; \
	   $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	 fi

# kustomize for the tests (tests/unit/test_k8s_render.py renders k8s/overlays/*), pinned, built into the venv
# from its Go module (a few minutes the first time, cached after). Needs the go command, 1.22 or newer; the
# demo does not.
$(KUSTOMIZE): | $(STAMP)
	@command -v go >/dev/null || { echo "building kustomize needs Go 1.22 or newer: install it, then run make again"; exit 1; }
	GOBIN="$(abspath $(BIN))" GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@touch $@

broker-start: $(STAMP)
	$(BIN)/oco-gateway broker start

broker-stop: $(STAMP)
	$(BIN)/oco-gateway broker stop

clean:
	-$(BIN)/oco-gateway broker stop
	rm -rf $(VENV) .state .pytest_cache

# k8s/base/prometheusrule.yaml is generated from docker/prometheus/rules.yml (a test checks they agree).
k8s-rules: $(STAMP)
	$(BIN)/python -c 'import yaml; D = type("D", (yaml.SafeDumper,), {}); D.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)); doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "oco-gateway", "labels": {"app.kubernetes.io/name": "oco-gateway"}}, "spec": yaml.safe_load(open("docker/prometheus/rules.yml"))}; head = "# GENERATED from docker/prometheus/rules.yml by `make k8s-rules`: edit that file, not this one.\n# Needs prometheus-operator (PrometheusRule CRD, monitoring.coreos.com/v1); its ruleSelector must match\n# these labels (kube-prometheus-stack: add `release: <name>` in an overlay).\n"; open("k8s/base/prometheusrule.yaml", "w").write(head + yaml.dump(doc, Dumper=D, sort_keys=False, width=110))'
