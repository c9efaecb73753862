# Targets run exactly what CI runs (.ci/run calls `make test`, then `make package`).
# The stack's state lives in FILESTORE_STATE_DIR (default .stack).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Prerequisites run one after another, in the order listed, even under make -j:
# the stack must be up before the integration tests and the demo.
.NOTPARALLEL:

STACK := scripts/stack.sh
# Sources the stack's environment file (written by `scripts/stack.sh env`).
WITH_ENV := source "$$($(STACK) env)" &&

.PHONY: install stack-up stack-down build lint unit integration test demo

install:
	scripts/install.sh

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

build:
	cargo build --workspace

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace --lib --bins

integration: stack-up build
	$(WITH_ENV) cargo test -p filestore-e2e --test '*' -- --test-threads=1
	$(MAKE) --no-print-directory browser-test

# The upload page in headless Chromium, against the running stack (tests/browser/).
.PHONY: browser-test
browser-test:
	$(WITH_ENV) node --test tests/browser/

test: install lint unit integration localstack-test

demo: install stack-up
	$(WITH_ENV) cargo run -q -p filestore-e2e --bin demo

# The load and fault scenarios at full size; the report goes to bench/results/soak.md.
.PHONY: soak
soak: install stack-up build
	$(WITH_ENV) cargo run -q -p filestore-e2e --bin soak

# Benchmarks stay out of `make test`; their figures go to bench/results/. bench/overhead.sh
# (about 40 minutes on two cores) runs its own clamd, MinIO, OpenBao and functions on ports
# apart from the local stack's; BENCH_QUICK=1 runs a tenth of its corpus.
.PHONY: bench
bench: install
	bench/scan-memory.sh
	bench/encryption.sh
	bench/overhead.sh

# --- deployment ----------------------------------------------------------------

# Cargo packages of the functions.
FUNCTIONS := presign scan notify upload
# Architecture `make package` builds for: arm64, which template.yaml deploys, when the Rust
# target aarch64-unknown-linux-gnu is installed, otherwise x86_64. PACKAGE_ARCH=arm64 or
# PACKAGE_ARCH=x86_64 chooses.
PACKAGE_ARCH ?= $(if $(findstring aarch64-unknown-linux-gnu,$(shell rustup target list --installed 2>/dev/null)),arm64,x86_64)

.PHONY: package deploy-check localstack-test

# Release builds of the functions as Lambda zip files, target/lambda/<function>/bootstrap.zip.
package:
	@echo "package: building $(FUNCTIONS) for $(PACKAGE_ARCH) with cargo lambda"
	@if [[ $(PACKAGE_ARCH) != arm64 ]]; then echo "package: note: template.yaml deploys arm64; run 'rustup target add aarch64-unknown-linux-gnu' to package for it"; fi
	cargo lambda build --release --$(subst _,-,$(PACKAGE_ARCH)) --output-format zip \
		$(addprefix --package ,$(FUNCTIONS)) $(addprefix --bin ,$(FUNCTIONS))
	@ls -l $(foreach function,$(FUNCTIONS),target/lambda/$(function)/bootstrap.zip)

# Offline checks of template.yaml (cfn-lint, sam validate) and the deployment descriptors.
deploy-check: install
	cargo test -p filestore-e2e --test deploy -- template_passes functions

# LocalStack (S3 and SQS, without Docker) set up by localstack/init: an upload to the incoming
# bucket becomes an SQS message that scan parses and scans. scan uses the stack's clamd. About
# 30 s, plus about a minute to install LocalStack the first time.
localstack-test: install stack-up build
	trap 'localstack/run.sh down' EXIT && localstack/run.sh up && \
	$(WITH_ENV) source "$$(localstack/run.sh env)" && \
	cargo test -p filestore-e2e --test deploy -- --ignored --test-threads=1 localstack
