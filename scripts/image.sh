#!/usr/bin/env bash
# Builds the kvenv image (FROM scratch, /kvenv alone, static) with buildah
# from the x86_64 musl build (scripts/cross.sh), as the release image is built
# from the musl archives, and checks it from outside: the image's
# only layer holds exactly /kvenv, its entrypoint is /kvenv, and the /kvenv
# taken out of the image resolves a secret from an empty root (chroot, against
# the loopback fakes: tests/it/static.rs) and installs itself with `kvenv
# install`. A container runtime is not needed (and may not start in every
# sandbox): the image is exported as an OCI layout and read as files.
#   scripts/image.sh [TAG]          (default kvenv:VERSION); needs root and buildah
# For users' registries and both architectures, see Containerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
tag=${1:-kvenv:$version}
buildah=(buildah --storage-driver vfs)

echo "== the x86_64 musl build (scripts/cross.sh)"
bin=$(scripts/cross.sh x86_64-unknown-linux-musl build | tail -n 1)
if readelf -l "$bin" | grep -q INTERP; then
  echo "image: $bin is dynamically linked" >&2
  exit 1
fi

echo "== buildah: $tag"
ctr=$("${buildah[@]}" from scratch)
trap '"${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
"${buildah[@]}" copy --chmod 0755 "$ctr" "$bin" /kvenv >/dev/null
"${buildah[@]}" config --entrypoint '["/kvenv"]' --cmd '[]' \
  --label org.opencontainers.image.title=kvenv \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.licenses=MIT "$ctr"
"${buildah[@]}" commit --quiet --rm "$ctr" "$tag" >/dev/null
trap - EXIT

echo "== checking $tag from its exported layout"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${buildah[@]}" push --quiet "$tag" "oci:$work/layout" >/dev/null
python3 - "$work/layout" "$work/root" <<'PY'
import json, os, sys, tarfile
layout, root = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
index = json.load(open(os.path.join(layout, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
entrypoint = config["config"].get("Entrypoint")
assert entrypoint == ["/kvenv"], f"entrypoint {entrypoint}"
assert len(manifest["layers"]) == 1, f"{len(manifest['layers'])} layers"
os.makedirs(root)
with tarfile.open(blob(manifest["layers"][0]["digest"])) as layer:
    names = [m.name.lstrip("./") for m in layer.getmembers() if m.name.strip("./")]
    assert names == ["kvenv"], f"the image holds {names}"
    member = layer.getmember(layer.getnames()[0])
    assert member.isfile() and member.mode & 0o777 == 0o755, oct(member.mode)
    layer.extractall(root)
print(f"image: one layer holding only /kvenv ({member.size // 1024} KiB), entrypoint /kvenv")
PY
cmp "$work/root/kvenv" "$bin"
mkdir "$work/installed"
"$work/root/kvenv" install "$work/installed"
cmp "$work/installed/kvenv" "$bin"
echo "image: /kvenv install DIR places it"
KVENV_STATIC_BINARY="$work/root/kvenv" cargo test --quiet --test it -- static_binary_resolves_and_execs_from_an_empty_root
echo "image: $tag is good"
