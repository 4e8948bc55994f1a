# `make demo` and `make test` do all set-up themselves: a virtual environment in .venv with every package.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test lint format clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -c "import torch, torchvision, diffusers, decord, av, open_clip"
	touch $(STAMP)

# The motions of params.yaml are built two at a time, one per core (each stage process fixes its own torch
# threads, so the results are those of one `dvc repro`); then `dvc repro` builds what joins them (the report).
# `base`, which every motion reads, is brought up to date first and alone, and each motion's own stages then
# run one by one with --single-item (in dvc.yaml's order, as `dvc stage list` gives them): a `dvc repro` that
# checks a stage locks its outputs, so two runs that both checked `base` would fail at once whenever one of
# them is already running a stage that reads it (after a code change that leaves the data stages cached).
MOTIONS = $(BIN)/python -c "import yaml; print(*yaml.safe_load(open('params.yaml'))['motions'], sep='\n')"
MOTION_STAGES = $(BIN)/dvc stage list --name-only | grep "@{}$$"

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m stages.timings --start
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro base
	$(MOTIONS) | PATH="$(CURDIR)/$(BIN):$$PATH" xargs -P 2 -I{} sh -c '$(MOTION_STAGES) | while read -r stage; \
	  do $(BIN)/dvc --wait-for-lock repro --single-item "$$stage" || exit 255; done'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m stages.timings

# The report test opens reports/index.html in a real headless browser: Debian's chromium.
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the report's browser test"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Two pytest workers, one per core, whole files (or test classes) per worker: each motion of the proof test
# (tests/test_motion_learned.py, one tuning run per motion, one class per motion) takes a worker, and the
# rest of the suite fills in around them.
test: $(STAMP) browser
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ruff check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-venv:
	rm -rf $(VENV)

# A local Prefect server (SQLite, 127.0.0.1:4200) and the flows served as deployments (docs/ORCHESTRATION.md).
.PHONY: ui
ui: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m flows.serve
