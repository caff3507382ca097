#!/usr/bin/env bash
# Out-of-tree plugin round trip: install merx from a build tree into a scratch prefix, build the example
# plugin project (docs/examples/mynet) against that prefix with find_package(merx), and check that the
# installed merx lists the new plugin. Then the same for a regularizer and an augmenter project written by
# the installed `merx plugins new` (the backbone one is docs/examples/mynet itself, checked file by file).
#
# usage: out_of_tree.sh <merx build dir> <example source dir>
set -euo pipefail

build=$1
example=$2
cmake=${CMAKE:-cmake}  # ctest passes the CMake that configured the build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/merx-out-of-tree.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() {  # step <log name> <command...>: run quietly, show the log on failure
  local log="$tmp/$1.log" t0=$SECONDS
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $*" >&2
    cat "$log" >&2
    exit 1
  fi
  echo "$(basename "$log" .log): $((SECONDS - t0)) s"
}

step install "$cmake" --install "$build" --prefix "$tmp/prefix"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # The scratch prefix changes every run: make its paths relative so that reruns hit the cache.
  export CCACHE_BASEDIR=$tmp CCACHE_NOHASHDIR=1
fi
step configure "$cmake" -S "$example" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
step build "$cmake" --build "$tmp/build"
test -f "$tmp/build/plugins/merx_backbone_mynet.so" || { echo "no merx_backbone_mynet.so was built" >&2; exit 1; }

if ! out=$(MERX_PLUGIN_PATH="$tmp/build/plugins" "$tmp/prefix/bin/merx" plugins --kind backbone --json 2>"$tmp/merx.err"); then
  echo "FAILED: merx plugins --kind backbone --json" >&2
  cat "$tmp/merx.err" >&2
  exit 1
fi
if ! grep -Eq '"name"[[:space:]]*:[[:space:]]*"mynet"' <<<"$out"; then
  echo "mynet is not listed by the installed merx; it printed:" >&2
  echo "$out" >&2
  cat "$tmp/merx.err" >&2
  exit 1
fi
echo "ok: mynet built out of tree and listed by the installed merx"

# `merx plugins new` writes docs/examples/mynet for a backbone called mynet (the class name aside).
step scaffold_backbone "$tmp/prefix/bin/merx" plugins new --kind backbone --name mynet "$tmp/new_mynet"
for f in CMakeLists.txt README.md; do
  cmp "$example/$f" "$tmp/new_mynet/$f" || { echo "plugins new: $f differs from docs/examples/mynet" >&2; exit 1; }
done
diff <(sed 's/MyNet/Mynet/g' "$example/mynet.cpp") "$tmp/new_mynet/mynet.cpp" >&2 ||
  { echo "plugins new: mynet.cpp differs from docs/examples/mynet beyond the class name" >&2; exit 1; }

for kind_name in regularizer:feature_norm augmenter:noisy_batches; do
  kind=${kind_name%%:*} name=${kind_name#*:}
  step "new_$kind" "$tmp/prefix/bin/merx" plugins new --kind "$kind" --name "$name" "$tmp/$name"
  step "configure_$kind" "$cmake" -S "$tmp/$name" -B "$tmp/$name/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}"
  step "build_$kind" "$cmake" --build "$tmp/$name/build"
  out=$(MERX_PLUGIN_PATH="$tmp/$name/build/plugins" "$tmp/prefix/bin/merx" plugins --kind "$kind" --json 2>&1)
  grep -Eq "\"name\"[[:space:]]*:[[:space:]]*\"$name\"" <<<"$out" ||
    { echo "scaffolded $kind $name is not listed; merx printed:" >&2; echo "$out" >&2; exit 1; }
  echo "ok: merx plugins new --kind $kind built out of tree and listed"
done
