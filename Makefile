# Set-up is automatic: every target builds what it needs from the lock files when it is missing or stale:
# .venv/.runtime (the program and the CLI: what `make preview` needs), .venv/.installed (the tests too).
PYTHON ?= python3
VENV := .venv
STACK ?= aws-p5-train
BIN := $(VENV)/bin

.PHONY: preview test fuzz bench lock clean packs

# Installs into the virtual environment $(1) with uv, several times faster than pip: uv from PATH, else put in build/uv
# by the interpreter's own pip (one wheel, the version the test lock pins), which then makes the environment too. With
# neither, the environment is made by python -m venv and filled by pip.
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements-test.txt)
define install
	@echo "$(1): installing $(2)"
	@uv=$$(command -v uv || echo build/uv/bin/uv); \
	test -x "$$uv" || $(PYTHON) -m pip install --quiet --disable-pip-version-check --target build/uv uv==$(UV_VERSION) \
	  >/dev/null 2>&1 || true; \
	if test -x "$$uv"; then \
	  { test -x $(1)/bin/python || UV_PYTHON_DOWNLOADS=never "$$uv" venv --quiet --seed \
	      --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')" $(1); } && \
	  "$$uv" pip install --quiet --python $(1)/bin/python $(2); \
	else \
	  { test -x $(1)/bin/python || $(PYTHON) -m venv $(1); } && $(1)/bin/pip install --quiet $(2); \
	fi
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

# The tests, the gate CI runs on a pull request among them (tests/test_ci.py): every example stack previewed with every
# pack, where a mandatory violation, or a stack that no longer previews, fails the target (the report is in
# build/ci/report.md); as a test it runs beside the others instead of after them.
# pytest-xdist: WORKERS workers (default: one per core), each test file on one worker (module fixtures such as built
# packs run once), files handed out in the order tests/conftest.py sorts them (longest first).
# Bytecode is written (under build/pycache) even where the environment sets PYTHONDONTWRITEBYTECODE: the tests start
# many Python processes, and each would otherwise compile the provider SDKs it imports from source again (uv, which
# installs them, writes no bytecode).
WORKERS ?= auto
test: export PYTHONDONTWRITEBYTECODE :=
test: export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
test: $(VENV)/.installed .venv-checkov/.installed
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

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
