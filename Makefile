# Targets run exactly what CI runs (.ci/run calls `make test`).
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

integration: stack-up
	$(WITH_ENV) cargo test -p filestore-e2e --test '*' -- --test-threads=1

test: install lint unit integration

demo: install stack-up
	$(WITH_ENV) cargo run -q -p filestore-e2e --bin demo

# Benchmarks stay out of `make test`; their figures go to bench/results/.
.PHONY: bench
bench: install
	bench/scan-memory.sh
