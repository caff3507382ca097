#!/usr/bin/env bash
# Real Slurm (issue 9 item 4): starts a one-node Slurm cluster on this machine (slurm-wlm + munge from
# Debian, loopback only; recipe: docs/cluster.md "Testing"), submits a tiny sweep with
# `merx slurm --submit`, waits for the array and the merge job, and checks that the merged database equals
# a local `merx run` of the same spec with the same threads per cell: the same cells, all done, and identical
# fold-scope metrics, predictions and group (pooled, per-target) metrics on CPU.
# Usage: slurm_test.sh MERX_EXECUTABLE. Exit 0 pass, 1 fail, 77 skip (only when the daemons cannot start:
# not root, Slurm/MUNGE not installed, or they do not come up). It stops the daemons it started by the pids
# in their pid files, and removes its folder.
set -u
merx=$(realpath "$1")
work=$(mktemp -d /tmp/merx-slurm-test.XXXXXX)
chmod 755 "$work"
started_munge=0
state="$work/slurm"

stop_pidfile() {  # kill the daemon named by a pid file, wait up to 15 s for it to go
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}
cleanup() {
  stop_pidfile "$state/slurmd.pid"
  stop_pidfile "$state/slurmctld.pid"
  [ "$started_munge" = 1 ] && stop_pidfile /run/munge/munged.pid
  rm -rf "$work"
}
trap cleanup EXIT
skip() { echo "SKIPPED: $* (the real-Slurm test needs root, slurm-wlm and munge: apt-get install slurm-wlm munge)"; exit 77; }
fail() { echo "FAILED: $*"; for f in "$state"/*.log "$work"/slurmwd/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "not running as root"
for b in munged munge unmunge slurmctld slurmd sbatch squeue sinfo sqlite3; do
  command -v "$b" >/dev/null || skip "$b is not installed"
done

# MUNGE: reuse a running munged, else start one (key and run dir as Debian's package expects).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -f /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge && chown munge:munge /run/munge
  su -s /bin/sh munge -c /usr/sbin/munged >/dev/null 2>&1 && started_munge=1
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || skip "munged does not start"
fi

free_port() {  # a TCP port nobody listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
host=$(hostname -s)
mem=$(($(free -m | awk '/^Mem:/ {print $7}') * 8 / 10))
mkdir -p "$state/spool" "$state/save"
export SLURM_CONF="$state/slurm.conf"
cat >"$SLURM_CONF" <<CONF
ClusterName=merxtest
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$state/save
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF" || skip "slurmctld does not start (see $state/slurmctld.log)"
slurmd -f "$SLURM_CONF" || skip "slurmd does not start"
up=0
for _ in $(seq 300); do
  [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ] && { up=1; break; }
  sleep 0.1
done
[ "$up" = 1 ] || skip "the Slurm node does not become idle within 30 s ($(sinfo -h -o %T 2>&1 | head -1))"
echo "slurm: node $host idle"

# A tiny corpus (three datasets of 32 x 32 PNG clips written by Python's standard library) and a sweep of
# 2 variants x 3 LODO folds = 6 cells with the linear backbone.
/usr/bin/python3 - "$work/corpus" <<'PY' || fail "could not write the corpus"
import os, struct, sys, zlib, math
root = sys.argv[1]
def png(path, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
motion = {"negative": (0.5, 0.0), "positive": (0.0, 0.5), "surprise": (-0.4, -0.4)}
for ds, per in (("alpha", 2), ("beta", 1), ("gamma", 1)):
    os.makedirs(f"{root}/{ds}", exist_ok=True)
    with open(f"{root}/{ds}/annotations.csv", "w") as csv:
        csv.write("subject,clip,frames,onset,apex,offset,label\n")
        for s in (1, 2):
            for label, (mx, my) in motion.items():
                for k in range(per):
                    clip = f"s{s}_{label}{k}"
                    os.makedirs(f"{root}/{ds}/frames/{clip}", exist_ok=True)
                    for fr in range(6):
                        st = fr * (1.0 + 0.1 * s + 0.05 * k)
                        dx, dy = mx * st + s, my * st + k
                        rows = [[int(127.5 + 100 * math.sin(0.45 * (x - dx)) * math.cos(0.35 * (y - dy))) for x in range(32)] for y in range(32)]
                        png(f"{root}/{ds}/frames/{clip}/img{fr + 1}.png", rows)
                    csv.write(f"s{s},{clip},frames/{clip},1,4,6,{label}\n")
PY
cat >"$work/spec.json" <<JSON
{"name": "slurm_e2e",
 "datasets": [
  {"name": "alpha", "adapter": "manifest", "root": "$work/corpus/alpha", "annotations": "$work/corpus/alpha/annotations.csv", "options": {"cropped": true}},
  {"name": "beta", "adapter": "manifest", "root": "$work/corpus/beta", "annotations": "$work/corpus/beta/annotations.csv", "options": {"cropped": true}},
  {"name": "gamma", "adapter": "manifest", "root": "$work/corpus/gamma", "annotations": "$work/corpus/gamma/annotations.csv", "options": {"cropped": true}}],
 "labels": {"name": "megc3"},
 "recipe": {"name": "flow_strain", "params": {"size": 28, "flow_size": 32, "flow": "farneback"}},
 "protocol": {"name": "lodo"},
 "backbone": {"name": "linear"},
 "training": {"epochs": 3, "batch": 2, "lr": 0.01},
 "seeds": 1,
 "sweep": {"variants": [{"name": "erm"}, {"name": "lr", "training": {"lr": 0.02}}]},
 "output": "$work/results.sqlite"}
JSON
cd "$work" || fail "no work dir"
"$merx" run spec.json --cache "$work/cache" --jobs 1 --threads-per-cell 1 --output "$work/local.sqlite" >"$work/local.out" 2>&1 ||
  fail "the local run failed: $(tail -5 "$work/local.out")"

"$merx" slurm spec.json --shards 3 --cpus-per-task 1 --threads-per-cell 1 --cache "$work/cache" \
  --workdir "$work/slurmwd" --output "$work/merged.sqlite" --submit >"$work/submit.out" 2>&1 ||
  fail "merx slurm --submit failed: $(cat "$work/submit.out")"
cat "$work/submit.out"
for _ in $(seq 2400); do
  [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h 2>/dev/null)" ] || fail "the jobs did not finish within 240 s: $(squeue 2>&1)"
grep -q "all 3 shards done, merged into" "$work/slurmwd/logs/merge.log" 2>/dev/null ||
  fail "the merge job did not report success: $(cat "$work/slurmwd/logs/merge.log" 2>&1)"
for i in 0 1 2; do [ -s "$work/slurmwd/shards/$i.sqlite" ] || fail "shard $i wrote no database"; done

# The merged database against the local run: every query's rows, both ways (EXCEPT compares REALs exactly).
same() {  # name, query over schema prefix P (main or l)
  local q_main=${2//P./} q_l=${2//P./l.} a b
  a=$(sqlite3 "$work/merged.sqlite" "ATTACH '$work/local.sqlite' AS l; SELECT count(*) FROM ($q_main EXCEPT $q_l);")
  b=$(sqlite3 "$work/merged.sqlite" "ATTACH '$work/local.sqlite' AS l; SELECT count(*) FROM ($q_l EXCEPT $q_main);")
  n=$(sqlite3 "$work/merged.sqlite" "SELECT count(*) FROM ($q_main);")
  [ "$a" = 0 ] && [ "$b" = 0 ] || fail "$1 differ: $a rows only in the merged database, $b only in the local one"
  [ "$n" -gt 0 ] || fail "$1: no rows"
  echo "slurm: $1 identical ($n rows)"
}
same "cells" "SELECT identity, status, fold_id, target, cell_seed, chosen_epoch, threads FROM P.cells"
same "fold metrics" "SELECT c.identity, m.scope, ifnull(m.target, ''), m.name, ifnull(m.class, ''), m.value, m.support FROM P.metrics m JOIN P.cells c ON m.cell_id = c.id"
same "predictions" "SELECT c.identity, p.sample_key, p.true_class, p.predicted_class, p.probabilities_json FROM P.predictions p JOIN P.cells c ON p.cell_id = c.id"
same "group metrics" "SELECT g.identity, m.scope, ifnull(m.target, ''), m.name, ifnull(m.class, ''), m.value, m.support FROM P.metrics m JOIN P.groups g ON m.group_id = g.id"
[ "$(sqlite3 "$work/merged.sqlite" "SELECT count(*) FROM cells WHERE status = 'done'")" = 6 ] || fail "not 6 done cells"
[ "$(sqlite3 "$work/merged.sqlite" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"

# Resubmitting a finished sweep runs nothing: no shard left for the array.
"$merx" slurm spec.json --shards 3 --workdir "$work/slurmwd" --output "$work/merged.sqlite" >"$work/again.out" 2>&1
grep -q "0 shards to run (3 finished)" "$work/again.out" || fail "resubmission would rerun shards: $(cat "$work/again.out")"
echo "PASSED"
