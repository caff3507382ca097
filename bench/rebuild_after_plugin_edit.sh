#!/usr/bin/env bash
# bench/rebuild_after_plugin_edit.sh [BUILD_DIR]
# Figure: wall time of `cmake --build` after touching one plugin's source (issue: "a rebuild after
# touching one plugin stays under a minute"). Builds everything first, then touches the `linear` backbone
# and times the incremental rebuild of the whole tree, three times (ccache disabled, so the compiler
# really runs). Prints one line per run and the median.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
export CCACHE_DISABLE=1
cmake --build "$build" >/dev/null
times=()
for i in 1 2 3; do
  touch "$root/plugins/backbones/linear/linear.cpp"
  s=$(date +%s.%N)
  cmake --build "$build" >/dev/null
  e=$(date +%s.%N)
  t=$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')
  times+=("$t")
  printf 'run %d: %.1f s\n' "$i" "$t"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
printf 'rebuild after touching plugins/backbones/linear/linear.cpp: median %.1f s (cores: %s)\n' "$median" "$(nproc)"
