#!/usr/bin/env bash
# The Windows part of scripts/release-archive.sh (which calls this after its
# build): dist/NAME.zip holds NAME/ with kvenv.exe, LICENSE and README.md, and
# nothing else; its .sha256 verifies; kvenv.exe unpacked from it says its
# version where it can run. Runs in Git Bash on a Windows runner (python for
# the zip, as Windows has no zip command).
#   scripts/release-archive-windows.sh TARGET NAME VERSION
set -euo pipefail
cd "$(dirname "$0")/.."
target=$1 name=$2 version=$3
python=$(command -v python3 || command -v python)
mkdir -p dist
"$python" - "target/$target/release/kvenv.exe" "dist/$name.zip" "$name" <<'PY'
import sys, zipfile
exe, out, name = sys.argv[1:]
# Reproducible: fixed order and times.
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for src, dst in sorted([(exe, "kvenv.exe"), ("LICENSE", "LICENSE"), ("README.md", "README.md")], key=lambda p: p[1]):
        info = zipfile.ZipInfo(f"{name}/{dst}", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o755 << 16 if dst == "kvenv.exe" else 0o644 << 16
        z.writestr(info, open(src, "rb").read())
names = sorted(zipfile.ZipFile(out).namelist())
assert names == [f"{name}/LICENSE", f"{name}/README.md", f"{name}/kvenv.exe"], names
PY
(cd dist && sha256sum "$name.zip" > "$name.zip.sha256" && sha256sum -c "$name.zip.sha256")
check=$(mktemp -d)
"$python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "dist/$name.zip" "$check"
case "$(uname -s)" in
  MINGW*|MSYS*|CYGWIN*)
    got=$("$check/$name/kvenv.exe" --version | tr -d '\r')
    [ "$got" = "kvenv $version" ] || { echo "release-archive: --version said '$got'" >&2; exit 1; }
    echo "release-archive: $got runs" ;;
esac
rm -rf "$check"
echo "release-archive: dist/$name.zip and its .sha256 are good"
