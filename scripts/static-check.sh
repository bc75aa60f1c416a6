#!/usr/bin/env bash
# Builds kvenv as a static binary (glibc with +crt-static, which needs only the
# standard toolchain; a musl build is static too) and runs it from an empty root
# with chroot: no loader, no libc, no NSS, no CA bundle, nothing but the binary
# and the test CA, fetching a secret from the loopback fake vault and exec'ing.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --quiet --bin kvenv --target "$target" --target-dir target/static
bin="$PWD/target/static/$target/debug/kvenv"
# A dynamically linked executable names its loader in a PT_INTERP header.
if readelf -l "$bin" | grep -q INTERP; then
  echo "static-check: $bin is dynamically linked" >&2
  exit 1
fi
echo "static-check: $bin is static ($(du -h "$bin" | cut -f1), debug build)"
KVENV_STATIC_BINARY="$bin" cargo test --quiet --test it -- static_binary_resolves_and_execs_from_an_empty_root
