#!/usr/bin/env bash
# Builds the release archive for one target (default: this machine's) and
# checks it: dist/kvenv-VERSION-TARGET.tar.gz (.zip for Windows) holds
# kvenv-VERSION-TARGET/ with the binary, LICENSE and README.md, and nothing
# else; its .sha256 verifies; the binary unpacked from it runs and says its
# version; a musl build is static.
#   scripts/release-archive.sh [TARGET]
# The release workflow (.github/workflows/release.yml) runs this for every target.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
target=${1:-$host}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name="kvenv-${version}-${target}"
echo "== release archive ${name}"
cargo build --release --locked --bin kvenv --target "$target"
case "$target" in
  *-windows-*) exec scripts/release-archive-windows.sh "$target" "$name" "$version" ;;
esac
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "target/$target/release/kvenv" LICENSE README.md "$stage/$name/"
mkdir -p dist
# Reproducible: fixed order, owner and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' \
  -C "$stage" -czf "dist/$name.tar.gz" "$name"
(cd dist && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")

echo "== checking dist/$name.tar.gz"
(cd dist && sha256sum -c "$name.tar.gz.sha256")
expected=$(printf '%s\n' "$name/" "$name/LICENSE" "$name/README.md" "$name/kvenv")
listed=$(tar -tzf "dist/$name.tar.gz" | sort)
if [ "$listed" != "$expected" ]; then
  echo "release-archive: unexpected contents:" >&2
  echo "$listed" >&2
  exit 1
fi
check=$(mktemp -d)
tar -xzf "dist/$name.tar.gz" -C "$check"
bin="$check/$name/kvenv"
[ "$(stat -c %a "$bin")" = 755 ] || { echo "release-archive: kvenv is not mode 0755" >&2; exit 1; }
# The same architecture runs here, gnu or musl.
if [ "${target%%-*}" = "${host%%-*}" ]; then
  got=$("$bin" --version)
  [ "$got" = "kvenv $version" ] || { echo "release-archive: --version said '$got'" >&2; exit 1; }
  echo "release-archive: $("$bin" --version) runs"
fi
case "$target" in
  *-musl) if readelf -l "$bin" | grep -q INTERP; then echo "release-archive: $target build is not static" >&2; exit 1; fi ;;
esac
rm -rf "$check"
echo "release-archive: dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1)) and its .sha256 are good"
