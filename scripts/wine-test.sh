#!/usr/bin/env bash
# Runs the library's unit tests built for Windows, then the Windows tests
# (tests/it/windows.rs, ignored in a plain `cargo test`) with kvenv.exe, under
# Wine, against the test kit's loopback fakes:
#   scripts/wine-test.sh PATH/TO/kvenv.exe [PATH/TO/unit-tests.exe]
# (scripts/cross.sh x86_64-pc-windows-gnu builds both and calls this).
# Wine 8 (Debian's wine64) lacks bcryptprimitives.dll's ProcessPrng, which
# Rust's standard library imports; scripts/wine/bcryptprimitives.c forwards it
# to RtlGenRandom and is placed beside kvenv.exe, with printargs.exe, a helper
# that prints the arguments a Windows program sees. Neither ships.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=${1:?usage: scripts/wine-test.sh PATH/TO/kvenv.exe [PATH/TO/unit-tests.exe]}
units=${2:-}
need=()
command -v wine >/dev/null 2>&1 || need+=(wine64 wine)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
work="$PWD/target/cross/wine"
mkdir -p "$work/bin"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
# Wine's own services (wineserver, winedevice.exe) outlive the programs they
# serve: started here with no descriptor of ours, so that no pipe waits on
# them, and ended when this script ends.
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
echo "== wine: starting (a new prefix takes a few seconds)" >&2
wineboot -i </dev/null >/dev/null 2>&1 || true
x86_64-w64-mingw32-gcc -O2 -shared -o "$work/bin/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
x86_64-w64-mingw32-gcc -O2 -o "$work/bin/printargs.exe" scripts/wine/printargs.c
cp "$exe" "$work/bin/kvenv.exe"
echo "== wine: kvenv.exe --version"
got=$(wine "$work/bin/kvenv.exe" --version | tr -d '\r')
echo "$got"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ "$got" = "kvenv $version" ]
if [ -n "$units" ]; then
  echo "== wine: the library's unit tests"
  cp "$units" "$work/bin/unit-tests.exe"
  wine "$work/bin/unit-tests.exe" -q 2>&1 | tr -d '\r'
  [ "${PIPESTATUS[0]}" -eq 0 ]
fi
echo "== wine: tests/it/windows.rs"
KVENV_TEST_BINARY="$work/bin/kvenv.exe" KVENV_TEST_LAUNCHER=wine \
  KVENV_TEST_LAUNCHER_ENV=WINEPREFIX,WINEDEBUG,HOME \
  KVENV_TEST_WINE_BIN="$work/bin" \
  cargo test --quiet --test it -- --ignored windows::
