# Set-up is automatic: every target builds .venv from the lock files when it is missing or stale.
PYTHON ?= python3
VENV := .venv
STACK ?= aws-p5-train
BIN := $(VENV)/bin

.PHONY: preview test fuzz bench lock clean

$(VENV)/.installed: pyproject.toml requirements.txt requirements-test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-test.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

preview: $(VENV)/.installed
	$(BIN)/gpucluster preview $(STACK)

# Checkov in a virtual environment of its own (its dependencies conflict with the project's pins).
.venv-checkov/.installed: requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

# The tests, then every example stack previewed with every pack: a mandatory violation, or a stack that no longer
# previews, fails the target (the report is in build/ci/report.md).
test: $(VENV)/.installed .venv-checkov/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/gpucluster ci --out build/ci

# Property tests only, with many more examples than `make test` runs (hypothesis profile "fuzz", tests/conftest.py).
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_properties.py --hypothesis-show-statistics $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python bench/preview_scale.py
	$(BIN)/python bench/fsx_sizing.py
	$(BIN)/python bench/policy_scale.py

# Regenerates the lock files from pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-strip-extras --no-header -o requirements.txt
	uv pip compile pyproject.toml --extra test -c requirements.txt --python-version 3.11 --no-strip-extras --no-header -o requirements-test.txt

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache
