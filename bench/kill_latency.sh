#!/usr/bin/env bash
# Active defense: time from a reverse shell's execve to its death by vigild's
# automatic kill (the shipped rule "shell with a network socket as stdin or
# stdout", response: kill), on an idle host, under the sensor benchmark's
# mixed load, and while another process writes to the disk that holds
# vigild's event store (1 GiB files, each ended by fdatasync: the store's
# own fsyncs then wait behind that data).
#
#   bench/kill_latency.sh [--record]
#
# vigild runs with response_mode = on and a rate limit high enough for the
# benchmark; build/bench/kill_latency starts SHELLS shells one after the
# other (each reads from its socket until killed) and reports p50/p90/p99/max
# of execve -> waitpid(SIGKILL). The baseline measured in the same run is the
# alert latency of the same shells (alert written - exec event's kernel
# timestamp): the difference is what the responder adds.
#
# Environment:
#   SHELLS=200          shells per condition
#   MIXED_SECONDS=30    length of the background `workload mixed` (must cover the loaded run)
#   THREADS=2           workload threads
#   VIGILD=build/vigild WORKLOAD=build/bench/workload READY_TIMEOUT=30 STOP_TIMEOUT=30
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_record_args "$@"
SHELLS=${SHELLS:-200}
MIXED_SECONDS=${MIXED_SECONDS:-30}
THREADS=${THREADS:-2}
require_positive SHELLS MIXED_SECONDS THREADS READY_TIMEOUT STOP_TIMEOUT
((EUID == 0)) || die "needs root (vigild loads eBPF programs)"
KL=$(dirname "$VIGILD")/bench/kill_latency
[[ -x $KL ]] || die "$KL is not built (run 'make')"

SCRATCH=$(mktemp -d /tmp/vigil-kill-latency.XXXXXX)
WL_PID=
DW_PID=
# disk_writer_stop: the dd loop and the dd it is running
disk_writer_stop() {
	[[ -n $DW_PID ]] || return 0
	pkill -P "$DW_PID" 2>/dev/null
	kill "$DW_PID" 2>/dev/null
	wait "$DW_PID" 2>/dev/null
	pkill -f "of=$SCRATCH/pressure" 2>/dev/null
	DW_PID=
	rm -f -- "$SCRATCH/pressure"
}
cleanup() {
	[[ -n $WL_PID ]] && kill "$WL_PID" 2>/dev/null
	disk_writer_stop
	vigild_stop || true
	rm -rf -- "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ensure_workload "$SCRATCH"
check_quiet

cat >"$SCRATCH/vigild.conf" <<CONF
response_mode = on
response_max_per_min = 100000
bpf_pin_dir = /sys/fs/bpf/vigil-bench-$$
CONF
ALERTS=$SCRATCH/alerts.json
VIGILD_RUNDIR=$(mktemp -d "$SCRATCH/vigild-run.XXXXXX")
VIGILD_LOG=$SCRATCH/vigild.stderr
"$VIGILD" --config "$SCRATCH/vigild.conf" --events-out /dev/null --run-dir "$VIGILD_RUNDIR" \
	--store "$SCRATCH/store" --alerts-out "$ALERTS" </dev/null >/dev/null 2>"$VIGILD_LOG" &
VIGILD_PID=$!
for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
	grep -q 'vigild: ready' "$VIGILD_LOG" && break
	pid_alive "$VIGILD_PID" || die "vigild exited: $(tail -n 5 "$VIGILD_LOG" | paste -sd ';' -)"
	sleep 0.1
done
grep -q 'vigild: ready' "$VIGILD_LOG" || die "vigild not ready"

# one condition: kill latencies of SHELLS shells; alert latencies of their alerts
measure() {
	local name=$1 port=$2 out
	out=$("$KL" -n "$SHELLS" -p "$port" -t 3000)
	printf '%s\n' "$out" | awk '/^[0-9]+ [0-9.]+ ms$/ { print $2 }' | sort -n >"$SCRATCH/kill.$name"
	printf '%s\n' "$out" | tail -n 1 | sed "s/^/$name: /" >&2
}
pctl() { # pctl FILE P: nearest rank
	awk -v p="$2" -v n="$(wc -l <"$1")" 'BEGIN { r = int((p * n + 99) / 100); if (r < 1) r = 1 } NR == r { printf "%.1f", $1; exit }' "$1"
}

log "idle: $SHELLS reverse shells"
measure idle 17771
log "loaded: $SHELLS reverse shells under workload mixed --threads $THREADS"
"$WORKLOAD" mixed --seconds "$MIXED_SECONDS" --threads "$THREADS" >/dev/null &
WL_PID=$!
sleep 1
measure loaded 17772
kill "$WL_PID" 2>/dev/null
wait "$WL_PID" 2>/dev/null
WL_PID=
settle "$VIGILD_PID" || true
log "disk: $SHELLS reverse shells while 1 GiB files are written next to the store, each with fdatasync"
(while :; do dd if=/dev/zero of="$SCRATCH/pressure" bs=1M count=1024 conv=fdatasync status=none || exit; done) &
DW_PID=$!
sleep 2
measure disk 17773
disk_writer_stop
settle "$VIGILD_PID" || true
vigild_stop || true

# alert latency of the reverse-shell rule for the benchmark's shells (dash
# started by kill_latency), split by the listener port they connected to
python3 - "$ALERTS" "$SCRATCH" <<'PY' || die "cannot read $ALERTS"
import json, sys
out = {"17771": [], "17772": [], "17773": []}
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a.get("kind") != "alert" or a["rule"]["id"] != "7a413cd8-a1af-4737-b25c-5e149c4e84b4":
        continue
    ev = a["events"][0]
    sock = ev.get("vigil", {}).get("stdio", {}).get("stdin", {}).get("socket", {})
    port = str(sock.get("remote", {}).get("port", ""))
    if port in out:
        out[port].append(a["vigil"]["latency_ns"] / 1e6)
for port, name in (("17771", "idle"), ("17772", "loaded"), ("17773", "disk")):
    with open(f"{sys.argv[2]}/alert.{name}", "w") as f:
        for v in sorted(out[port]):
            f.write(f"{v:.3f}\n")
PY

TABLE=$(
	printf '| condition | shells killed | kill p50 ms | kill p90 ms | kill p99 ms | kill max ms | alert p50 ms | alert p99 ms |\n'
	printf '|---|---|---|---|---|---|---|---|\n'
	for c in idle loaded disk; do
		k=$SCRATCH/kill.$c
		a=$SCRATCH/alert.$c
		na=$(wc -l <"$a")
		printf '| %s | %s/%s | %s | %s | %s | %s | %s | %s |\n' "$c" "$(wc -l <"$k")" "$SHELLS" "$(pctl "$k" 50)" \
			"$(pctl "$k" 90)" "$(pctl "$k" 99)" "$(tail -n 1 "$k")" \
			"$( ((na)) && pctl "$a" 50 || echo n/a)" "$( ((na)) && pctl "$a" 99 || echo n/a)"
	done
)
printf '%s\n' "$TABLE"
if ((RECORD)); then
	{
		printf '\n## Active defense: exec to kill (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
		# shellcheck disable=SC2016
		printf '`SHELLS=%s bench/kill_latency.sh`: each shell is `/bin/sh -c "read cmd"` with a TCP socket to a local listener as stdin/stdout, started one after the other; kill = execve -> waitpid sees SIGKILL; alert = alert written - exec event kernel timestamp (the baseline: what detection alone takes). "loaded" runs `workload mixed --threads %s` alongside; "disk" runs a loop of `dd bs=1M count=1024 conv=fdatasync` in the directory of the store.\n\n' "$SHELLS" "$THREADS"
		machine_info
		printf '\n%s\n' "$TABLE"
	} >>"$ROOT/bench/RESULTS.md"
	log "appended to bench/RESULTS.md"
fi
