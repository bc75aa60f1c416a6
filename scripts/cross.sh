#!/usr/bin/env bash
# Builds kvenv for another target and runs it where this machine can:
#   scripts/cross.sh TARGET [check|build|test]
# TARGET: x86_64 or aarch64 Linux, gnu or musl (test: build, then run
# `--version` and the binary test against the loopback fakes, aarch64 under
# qemu-aarch64-static, with Debian's aarch64 C library for gnu), or
# x86_64-pc-windows-gnu (test: build, then run the Windows tests,
# tests/it/windows.rs, with kvenv.exe under Wine); build: the binary's path is
# the last line; check: any target (macOS included).
#
# Only package registries are used: the standard library for TARGET is built
# from source (-Zbuild-std) from Debian's rust-src of exactly this rustc's
# version (trixie-backports, fetched with `apt-get download` under a private
# APT_CONFIG, never installed), placed in a hard-linked copy of this
# toolchain's sysroot that `rustup toolchain link` names kvenv-cross-VERSION; zig from PyPI (ziglang, cargo-zigbuild) links musl and
# compiles the C that ring needs. RUSTC_BOOTSTRAP=1 is set for this build only.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/cross.sh TARGET [check|build|test]}
mode=${2:-test}
work="$PWD/target/cross"
mkdir -p "$work"

# zig and cargo-zigbuild, in a virtual environment of their own.
if [ ! -x "$work/venv/bin/cargo-zigbuild" ]; then
  echo "cross: installing ziglang and cargo-zigbuild (PyPI)"
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check ziglang cargo-zigbuild
fi
export PATH="$work/venv/bin:$PATH"

# A sysroot with the standard library's source for exactly this rustc.
version=$(rustc -V | awk '{print $2}')
sysroot="$work/sysroot-$version"
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/std" ]; then
  apt="$work/apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
  # The mirror the system already uses, with trixie-backports, read-only for the system.
  mirror=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
              grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}'; } |
            grep -v security | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb [trusted=yes] ${mirror%/} trixie-backports main" > "$apt/sources.list"
  cat > "$apt/apt.conf" <<CONF
Dir::State "$apt";
Dir::State::lists "$apt/lists";
Dir::Cache "$apt/cache";
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "/dev/null";
APT::Get::List-Cleanup "0";
CONF
  export APT_CONFIG="$apt/apt.conf"
  apt-get update -qq
  debver=$(apt-cache madison rust-src | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep "^$version+" | head -n 1)
  if [ -z "$debver" ]; then
    echo "cross: Debian has no rust-src $version (rustc -V); use a toolchain of 1.93 to 1.98" >&2
    exit 1
  fi
  (cd "$apt/deb" && apt-get download -qq "rust-src=$debver" 2>/dev/null)
  rm -rf "$apt/src" && mkdir -p "$apt/src"
  dpkg-deb -x "$apt"/deb/rust-src_*.deb "$apt/src"
  unset APT_CONFIG
  rm -rf "$sysroot"
  cp -al "$(rustc --print sysroot)" "$sysroot" 2>/dev/null || cp -a "$(rustc --print sysroot)" "$sysroot"
  mkdir -p "$sysroot/lib/rustlib/src"
  rm -rf "$sysroot/lib/rustlib/src/rust"
  mv "$apt/src/usr/src/rustc-$version" "$sysroot/lib/rustlib/src/rust"
fi

# cargo finds the standard library's source in its toolchain's sysroot, so the
# copy is linked as a toolchain of its own and used for this build.
toolchain="kvenv-cross-$version"
rustup toolchain link "$toolchain" "$sysroot" >/dev/null
export RUSTUP_TOOLCHAIN="$toolchain" RUSTC_BOOTSTRAP=1
build=(--locked --bin kvenv --target "$target" -Zbuild-std=std,panic_abort --target-dir "$work/build")
case "$target" in
  *-linux-musl) export RUSTFLAGS="${RUSTFLAGS:-} -Clink-self-contained=no" ;;
esac

if [ "$mode" = check ]; then
  echo "== cross: cargo check for $target"
  export RUSTFLAGS="${RUSTFLAGS:-} -Dwarnings"
  cargo-zigbuild check "${build[@]}"
  exit 0
fi

echo "== cross: build for $target (profile cross)" >&2
cargo zigbuild --profile cross "${build[@]}" >&2
bin="$work/build/$target/cross/kvenv"
case "$target" in *-windows-*) bin="$bin.exe" ;; esac
if [ "$mode" = build ]; then
  echo "$bin"
  exit 0
fi
launcher=()
case "$target" in
  x86_64-pc-windows-gnu)
    echo "== cross: $target: the library's unit tests (run under Wine next)" >&2
    units=$(cargo-zigbuild test --lib --no-run --locked --target "$target" \
              -Zbuild-std=std,panic_abort,test --target-dir "$work/build" 2>&1 |
            tee /dev/stderr | sed -n 's/.*Executable unittests src\/lib.rs (\(.*\))$/\1/p')
    exec env -u RUSTUP_TOOLCHAIN -u RUSTC_BOOTSTRAP -u RUSTFLAGS scripts/wine-test.sh "$bin" "$units"
    ;;
  x86_64-*) ;;
  aarch64-*)
    need=()
    command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
    case "$target" in
      *-gnu) [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross) ;;
    esac
    if [ ${#need[@]} -gt 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    fi
    launcher=(qemu-aarch64-static)
    case "$target" in
      *-gnu) launcher+=(-L /usr/aarch64-linux-gnu) ;;
    esac
    ;;
  *) echo "cross: no way to run $target here; use check" >&2; exit 1 ;;
esac
file "$bin" 2>/dev/null | sed 's/^/cross: /' || true
echo "== cross: $target: kvenv --version"
out=$("${launcher[@]}" "$bin" --version)
echo "$out"
[ "$out" = "kvenv $(cargo metadata --no-deps --format-version 1 --offline | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="kvenv"))')" ]
echo "== cross: $target: the binary against the loopback fakes"
# The tests themselves build with this machine's own toolchain, as always.
env -u RUSTUP_TOOLCHAIN -u RUSTC_BOOTSTRAP -u RUSTFLAGS \
  KVENV_TEST_BINARY="$bin" KVENV_TEST_LAUNCHER="${launcher[*]}" \
  cargo test --quiet --test it -- built::
