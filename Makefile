# Two commands do all set-up on a fresh machine:
#   make demo   the main job: migrates a TF1 project on the embedded data
#   make test   lint, then every test under Bazel and under pytest
# Both install what is missing (the .venv from requirements.lock; Bazel from
# Debian's bazel-bootstrap) and are quick when everything is present.

PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(abspath $(VENV))/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BAZEL_ENV := PATH=$(BIN):$$PATH
# The modern environment (current TensorFlow, Keras 3) where exports are
# proven; tests reach it through ESTIMATOR_MIGRATE_MODERN_PYTHON.
MODERN_VENV := .venv-modern
MODERN_STAMP := $(MODERN_VENV)/.installed
MODERN_PYTHON := $(abspath $(MODERN_VENV))/bin/python
MODERN_ENV := ESTIMATOR_MIGRATE_MODERN_PYTHON=$(MODERN_PYTHON)
# Python sources that lint checks.
PY_DIRS := estimator_migrate examples tests benchmarks tools conftest.py

.PHONY: demo test test-bazel test-pytest test-pytest-all lint format venv venv-modern bazel lock lock-modern bench clean

DEMO_DIR ?= demo_output

# TF_CPP_MIN_LOG_LEVEL=3 hides TF's C++ start-up lines (CUDA factories). The
# third act proves the exported model in the modern environment.
demo: $(STAMP) $(MODERN_STAMP)
	$(MODERN_ENV) TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python estimator_migrate/cli/demo.py --workdir=$(DEMO_DIR)

# `make test` runs every test under Bazel, and every module but the long
# integration ones again under pytest: both runners in full would take past
# 30 minutes on 2 cores. `make test-pytest-all` runs everything under pytest.
PYTEST_BAZEL_ONLY := tests/faults_test.py tests/cluster_test.py \
	tests/demo_test.py tests/demo_rerun_test.py \
	tests/keras_estimator_matrix_test.py \
	tests/export_parity_test.py tests/export_cli_test.py \
	tests/export_continue_test.py tests/rewrite_execution_test.py \
	tests/export_coverage_test.py tests/cluster_keras_test.py \
	tests/paths_test.py tests/console_binaries_test.py \
	tests/export_faults_test.py tests/rewrite_faults_test.py \
	tests/project_corpus_test.py tests/export_truth_test.py \
	tests/rewrite_speed_test.py tests/checkpoint_continuation_test.py \
	tests/canned_optimizers_test.py tests/export_memory_test.py \
	tests/export_model_fn_test.py tests/export_model_fn_serving_test.py \
	tests/export_serving_test.py
PYTEST := $(MODERN_ENV) TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/pytest -q

test: lint test-bazel test-pytest

test-bazel: $(STAMP) $(MODERN_STAMP) bazel
	$(BAZEL_ENV) bazel test --test_env=$(MODERN_ENV) //...

test-pytest: $(STAMP) $(MODERN_STAMP)
	$(PYTEST) $(addprefix --ignore=,$(PYTEST_BAZEL_ONLY))

test-pytest-all: $(STAMP) $(MODERN_STAMP)
	$(PYTEST)

lint: $(STAMP)
	$(BIN)/pyink --check --diff $(PY_DIRS)
	$(BIN)/ruff check $(PY_DIRS)

format: $(STAMP)
	$(BIN)/pyink $(PY_DIRS)
	$(BIN)/ruff check --fix $(PY_DIRS)

venv: $(STAMP)

$(STAMP): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Estimators need TF 2.15, which supports Python 3.9-3.11)." >&2; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps .
	touch $@

venv-modern: $(MODERN_STAMP)

$(MODERN_STAMP): requirements-modern.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required for the modern environment." >&2; exit 1; }
	[ -x $(MODERN_PYTHON) ] || $(PYTHON) -m venv $(MODERN_VENV)
	$(MODERN_VENV)/bin/pip install --quiet --upgrade pip
	$(MODERN_VENV)/bin/pip install --quiet -r requirements-modern.lock
	touch $@

bazel:
	@if ! command -v bazel >/dev/null || [ ! -d /usr/share/bazel/rules/java ]; then \
	  echo "Installing Bazel (Debian bazel-bootstrap, bazel-rules-java)"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) apt-get install -y -q bazel-bootstrap bazel-rules-java; \
	fi

# Re-pins requirements.lock from requirements.in in a throw-away venv.
lock:
	rm -rf /tmp/estimator_migrate_lock && $(PYTHON) -m venv /tmp/estimator_migrate_lock
	/tmp/estimator_migrate_lock/bin/pip install --quiet -r requirements.in
	/tmp/estimator_migrate_lock/bin/pip freeze > requirements.lock

# Re-pins requirements-modern.lock from requirements-modern.in.
lock-modern:
	rm -rf /tmp/estimator_migrate_lock_modern && $(PYTHON) -m venv /tmp/estimator_migrate_lock_modern
	/tmp/estimator_migrate_lock_modern/bin/pip install --quiet -r requirements-modern.in
	/tmp/estimator_migrate_lock_modern/bin/pip freeze > requirements-modern.lock

# Speed and memory: checkpoint conversion, training throughput, the cluster,
# the rewrite beside tf_upgrade_v2.
bench: $(STAMP) $(MODERN_STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python benchmarks/checkpoint_conversion.py --with_20gb
	TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python benchmarks/training_throughput.py
	TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python benchmarks/cluster_throughput.py
	TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python benchmarks/rewrite_throughput.py
	$(MODERN_ENV) TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. $(BIN)/python benchmarks/export_scale.py --with_20gb

clean:
	rm -rf $(VENV) $(MODERN_VENV) build *.egg-info $(DEMO_DIR)
