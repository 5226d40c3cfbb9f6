# Set-up is automatic: every target builds what it needs from the lock files when it is missing or stale:
# .venv/.runtime (the program and the CLI: what `make preview` needs), .venv/.installed (the tests too).
PYTHON ?= python3
VENV := .venv
STACK ?= aws-p5-train
BIN := $(VENV)/bin

.PHONY: preview test fuzz bench lock clean packs

# Installs into the virtual environment $(1) with uv (from PATH, or put into the environment from the package
# index: one small wheel), several times faster than pip; with pip when uv cannot be had.
define install
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	uv=$$(command -v uv || echo $(1)/bin/uv); \
	{ test -x "$$uv" || $(1)/bin/pip install --quiet uv; } 2>/dev/null; \
	if test -x "$$uv"; then "$$uv" pip install --quiet --python $(1)/bin/python $(2); \
	else $(1)/bin/pip install --quiet $(2); fi
endef

$(VENV)/.runtime: pyproject.toml requirements.txt
	$(call install,$(VENV),-r requirements.txt)
	$(call install,$(VENV),--no-deps -e .)
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-test.txt
	$(call install,$(VENV),-r requirements-test.txt)
	touch $@

preview: $(VENV)/.runtime
	$(BIN)/gpucluster preview $(STACK)

# Checkov in a virtual environment of its own (its dependencies conflict with the project's pins).
.venv-checkov/.installed: requirements-checkov.txt
	$(call install,.venv-checkov,-r requirements-checkov.txt)
	touch $@

# The tests, then every example stack previewed with every pack: a mandatory violation, or a stack that no longer
# previews, fails the target (the report is in build/ci/report.md).
# pytest-xdist: one worker per core, each test file on one worker (module fixtures such as built packs run once).
# Bytecode is written (under build/pycache) even where the environment sets PYTHONDONTWRITEBYTECODE: the tests start
# many Python processes, and each would otherwise compile the provider SDKs it imports from source again (uv, which
# installs them, writes no bytecode).
test: export PYTHONDONTWRITEBYTECODE :=
test: export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
test: $(VENV)/.installed .venv-checkov/.installed
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)
	$(BIN)/gpucluster ci --out build/ci

# Each policy pack made self-contained, as `pulumi policy publish` uploads a pack and the CLI installs it: the
# project's wheel in the pack's wheels/ folder, and the pack's own virtual environment from its requirements.txt.
PACKS := cost sovereignty security
packs: $(VENV)/.runtime
	rm -rf dist && $(BIN)/pip wheel --quiet --no-deps -w dist .
	for pack in $(PACKS); do \
	  rm -rf policies/$$pack/wheels && mkdir policies/$$pack/wheels && cp dist/gpucluster-*.whl policies/$$pack/wheels/ && \
	  cd policies/$$pack && { test -x venv/bin/python || $(PYTHON) -m venv venv; } && \
	  venv/bin/pip install --quiet -r requirements.txt && cd ../.. || exit 1; \
	done

# Property tests only, with many more examples than `make test` runs (hypothesis profile "fuzz", tests/test_properties.py).
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_properties.py --hypothesis-show-statistics $(PYTEST_ARGS)

bench: $(VENV)/.runtime
	$(BIN)/python bench/preview_scale.py
	$(BIN)/python bench/fsx_sizing.py
	$(BIN)/python bench/policy_scale.py

# Regenerates the lock files from pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra clouds --python-version 3.11 --no-strip-extras --no-header -o requirements.txt
	uv pip compile pyproject.toml --extra clouds --extra test -c requirements.txt --python-version 3.11 --no-strip-extras --no-header -o requirements-test.txt

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache
