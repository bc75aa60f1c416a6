#!/usr/bin/env bash
# The tests that run cargo themselves, against a registry no warmer than a
# newcomer's first `cargo test` leaves: a fresh CARGO_HOME filled only by
# `cargo fetch` for this machine's target. A test that needs a package of
# another platform (or anything else not downloaded) fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(cargo -vV | sed -n 's/^host: //p')
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
CARGO_HOME="$fresh" cargo fetch --locked --quiet --target "$host"
bin=$(cargo test --no-run --test it --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("target", {}).get("name") == "it":
        print(m["executable"])')
# Every test that runs cargo: examples::the_declared_rust_version_is_at_least_every_dependencys.
CARGO_HOME="$fresh" "$bin" --exact examples::the_declared_rust_version_is_at_least_every_dependencys
