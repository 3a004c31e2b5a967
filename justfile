# ferry's command book. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list

# Install the Debian packages, the pinned toolchain and just (idempotent)
setup:
    scripts/bootstrap

# Build the ferry binary (debug)
build:
    cargo build --bin ferry

# Run every test against real registries (unit and integration)
test:
    cargo build --workspace --bins
    if command -v cargo-nextest >/dev/null; then cargo nextest run --workspace --no-fail-fast; else cargo test --workspace --no-fail-fast; fi

# Two throw-away local registries, sample images, and the whole workflow: gather, serialize, deserialize, scatter
# `just demo batch`: the batch variant (two weekly batch-serialize runs, then batch-deserialize)
# `just demo plugins`: a site's rule as a signed bundle, carried across and run by name under the policy
demo variant="":
    cargo build --release --bin ferry
    scripts/demo target/release/ferry {{variant}}

# Benchmarks side by side with skopeo; writes docs/benchmarks.md
bench:
    cargo build --release --bin ferry
    scripts/bench target/release/ferry

# Formatting and lints
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# What CI runs (`.ci/run`, the README's test command): the tests, the lints and the API docs;
# each runs even when one before it failed, and any failure fails the whole
ci:
    #!/usr/bin/env bash
    status=0
    just test || status=1
    just lint || status=1
    just docs || status=1
    exit $status

# The API docs, warnings denied (broken links, missing docs)
docs:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Nightly and cargo-fuzz are installed when missing; not part of `just test`. New inputs go
# to fuzz/corpus, seeds are in fuzz/seeds, crashes in fuzz/artifacts.

# Fuzz archive reader, references, sources lists, CSV, run reports, receipts and media sets for SECONDS each (`just fuzz 300`)
fuzz seconds="60":
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    for target in archive_reader reference sources_list csv run_report receipt volume_set tape_set; do \
        mkdir -p fuzz/corpus/$target; \
        cargo +nightly fuzz run -O $target fuzz/corpus/$target fuzz/seeds/$target -- -max_total_time={{seconds}} -rss_limit_mb=1024 -malloc_limit_mb=512; \
    done
