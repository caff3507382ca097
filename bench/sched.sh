#!/usr/bin/env bash
# bench/sched.sh [BUILD_DIR] [TINY_CORPUS]: the local scheduler (issue 9; figures in docs/benchmarks.md).
#  1. 8 STSTNet cells (LODO over casme2_like + samm_like of the `tiny` demo corpus = 2 folds x 4 seeds,
#     100 epochs, selection last) one after another with 2 torch threads each (--jobs 1 --threads-per-cell 2)
#     against 2 concurrent 1-thread slots (--jobs 2 --threads-per-cell 1). Goal: >= 1.3x.
#  2. A finished 100-cell spec (linear backbone, 2 folds x 50 seeds, 1 epoch) run again: goal < 2 s.
# The feature cache is filled first, so both timings cover cells only (plus loading the cached inputs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
tiny=$(realpath "${2:-$root/build/demo/tiny}")
merx="$build/bin/merx"
work=$(mktemp -d /tmp/merx-bench-sched.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -d "$tiny/casme2_like" ] || { echo "no tiny corpus at $tiny: merx synth --preset tiny --out $tiny" >&2; exit 2; }

spec() {  # backbone epochs seeds output
  cat <<JSON
{"name": "bench_sched_$1",
 "datasets": [
  {"name": "casme2_like", "adapter": "casme2", "root": "$tiny/casme2_like/CASME2_RAW_selected",
   "annotations": "$tiny/casme2_like/CASME2-coding-20140508.xlsx", "options": {"fps": 60}},
  {"name": "samm_like", "adapter": "samm", "root": "$tiny/samm_like/SAMM",
   "annotations": "$tiny/samm_like/SAMM_Micro_FACS_Codes_v2.xlsx", "options": {"fps": 50}}],
 "labels": {"name": "megc3"}, "recipe": {"name": "flow_strain", "params": {"size": 28}},
 "protocol": {"name": "lodo"}, "backbone": {"name": "$1"},
 "training": {"optimizer": "adam", "lr": 0.001, "epochs": $2, "batch": 8, "sampler": "domain_balanced", "selection": "last"},
 "seeds": $3, "output": "$4"}
JSON
}
now() { date +%s.%N; }
spec ststnet 100 4 "$work/x.sqlite" >"$work/ststnet.json"
spec linear 1 50 "$work/hundred.sqlite" >"$work/linear.json"
"$merx" -q prep --spec "$work/ststnet.json" --cache "$work/cache" >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

t0=$(now); "$merx" -q run "$work/ststnet.json" --cache "$work/cache" --jobs 1 --threads-per-cell 2 --output "$work/seq.sqlite" >/dev/null; t1=$(now)
t2=$(now); "$merx" -q run "$work/ststnet.json" --cache "$work/cache" --jobs 2 --threads-per-cell 1 --output "$work/par.sqlite" >/dev/null; t3=$(now)
seq_s=$(echo "$t1 - $t0" | bc -l); par_s=$(echo "$t3 - $t2" | bc -l)
for db in seq par; do
  [ "$(sqlite3 "$work/$db.sqlite" "SELECT count(*) FROM cells WHERE status = 'done'")" = 8 ] || { echo "$db: not 8 done cells" >&2; exit 1; }
done
same=$(sqlite3 "$work/par.sqlite" "ATTACH '$work/seq.sqlite' AS s; SELECT count(*) FROM metrics m JOIN cells c ON m.cell_id = c.id
  JOIN s.cells sc ON sc.identity = c.identity JOIN s.metrics sm ON sm.cell_id = sc.id AND sm.name = m.name
  AND ifnull(sm.class, '') = ifnull(m.class, '') AND sm.scope = m.scope AND sm.value IS m.value")
echo "fold metrics equal between the two runs: $same of $(sqlite3 "$work/par.sqlite" "SELECT count(*) FROM metrics WHERE cell_id IS NOT NULL") (2 vs 1 threads: float sums may differ)"
printf '8 STSTNet cells: sequential 2-thread %.1f s, 2 concurrent 1-thread slots %.1f s: %.2fx\n' \
  "$seq_s" "$par_s" "$(echo "$seq_s / $par_s" | bc -l)"

"$merx" -q run "$work/linear.json" --cache "$work/cache" --jobs 2 >/dev/null || true
t4=$(now); "$merx" -q run "$work/linear.json" --cache "$work/cache" --jobs 2 >"$work/rerun.out"; t5=$(now)
printf 'rerun of a finished %s-cell spec: %.2f s (%s)\n' "$(sqlite3 "$work/hundred.sqlite" 'SELECT count(*) FROM cells')" \
  "$(echo "$t5 - $t4" | bc -l)" "$(head -1 "$work/rerun.out")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
