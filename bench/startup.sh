#!/usr/bin/env bash
# Startup: how long vigild takes from its exec to "vigild: ready", the window
# after a (re)start in which the host is not watched. Most of it is the
# kernel's verifier checking the BPF programs, and the rules compiling.
#
#   bench/startup.sh [--record]
#
# Starts each vigild binary RUNS times in each mode, alternating binaries
# and modes in every round (so slow drift of the machine hits all alike),
# and reports the median, min and max milliseconds to "ready", and the ratio
# of each binary's median to the first one's in the same mode.
# Modes: dispatch (the default configuration: on kernels without module
# syscall tracepoints, like this one, the syscall exits are dispatched from
# one raw sys_exit program) and tracepoints (module_fallback = off: every
# exit handler on its syscalls/sys_exit_* tracepoint, as on kernels that
# have the module tracepoints, which is most of them).
#
# Environment:
#   RUNS=8                 starts per binary and mode
#   VIGILDS=build/vigild   binaries to compare, space-separated (the first
#                          is the baseline; e.g. one built from an older commit)
#   MODES="dispatch tracepoints"
#   VIGILD_ARGS="--no-store"  extra options (the shipped rules are loaded)
#   READY_TIMEOUT=30 STOP_TIMEOUT=30
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_record_args "$@"

RUNS=${RUNS:-8}
VIGILDS=${VIGILDS:-$ROOT/build/vigild}
MODES=${MODES:-dispatch tracepoints}
VIGILD_ARGS=${VIGILD_ARGS:---no-store}
require_positive RUNS READY_TIMEOUT STOP_TIMEOUT
((RUNS <= 100)) || die "RUNS must be <= 100"
((EUID == 0)) || die "needs root (vigild loads eBPF programs)"
for m in $MODES; do
	[[ $m == dispatch || $m == tracepoints ]] || die "unknown mode '$m' (dispatch, tracepoints)"
done
for v in $VIGILDS; do
	[[ -x $v ]] || die "$v is not an executable (run 'make')"
done

SCRATCH=$(mktemp -d /tmp/vigil-startup.XXXXXX)
cleanup() {
	vigild_stop || true
	rm -rf -- "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
check_quiet

printf 'metrics_interval = 60\n' >"$SCRATCH/dispatch.conf"
printf 'metrics_interval = 60\nmodule_fallback = off\n' >"$SCRATCH/tracepoints.conf"

# one_start BINARY MODE: prints the milliseconds from exec to "ready"
one_start() {
	local bin=$1 mode=$2 t0 t1 i
	VIGILD_RUNDIR=$(mktemp -d "$SCRATCH/run.XXXXXX")
	VIGILD_LOG=$SCRATCH/vigild.stderr
	: >"$VIGILD_LOG"
	t0=$(now)
	# shellcheck disable=SC2086 # VIGILD_ARGS is a list of options
	"$bin" --config "$SCRATCH/$mode.conf" --events-out /dev/null --run-dir "$VIGILD_RUNDIR" \
		--rules "$ROOT/rules" $VIGILD_ARGS </dev/null >/dev/null 2>"$VIGILD_LOG" &
	VIGILD_PID=$!
	for ((i = 0; i < READY_TIMEOUT * 200; i++)); do
		if grep -q 'vigild: ready' "$VIGILD_LOG"; then
			t1=$(now)
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }'
			vigild_stop >/dev/null || true
			return 0
		fi
		pid_alive "$VIGILD_PID" || break
		sleep 0.005
	done
	log "$bin ($mode) did not get ready: $(tail -n 3 "$VIGILD_LOG" | paste -sd ';' -)"
	vigild_stop || true
	return 1
}

RAW=$SCRATCH/raw
: >"$RAW"
for ((r = 0; r < RUNS; r++)); do
	for m in $MODES; do
		for v in $VIGILDS; do
			ms=$(one_start "$v" "$m") || die "startup failed"
			printf '%s %s %s\n' "$m" "$v" "$ms" >>"$RAW"
			sleep 1 # the previous instance's programs are freed after an RCU grace period
		done
	done
	log "round $((r + 1))/$RUNS done"
done

TABLE=$(python3 - "$RAW" "$VIGILDS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
bins = sys.argv[2].split()
modes = []
for m, _, _ in rows:
    if m not in modes:
        modes.append(m)
print("| mode | vigild | starts | median ms | min ms | max ms | median / first |")
print("|---|---|---:|---:|---:|---:|---:|")
for m in modes:
    base = None
    for b in bins:
        t = [int(ms) for mm, bb, ms in rows if mm == m and bb == b]
        med = statistics.median(t)
        base = base or med
        print(f"| {m} | {b} | {len(t)} | {med:.0f} | {min(t)} | {max(t)} | {med / base:.2f} |")
PY
) || die "cannot summarise $RAW"
printf '%s\n' "$TABLE"

if ((RECORD)); then
	{
		printf '\n## %s — bench/startup.sh\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		# shellcheck disable=SC2016 # backquotes are Markdown
		printf -- '- command: `RUNS=%s MODES="%s" VIGILD_ARGS="%s" bench/startup.sh --record`\n' "$RUNS" "$MODES" "$VIGILD_ARGS"
		machine_info
		printf '\n%s\n\n' "$TABLE"
		printf 'Milliseconds from the exec of vigild to its "vigild: ready" line, the shipped rules loaded; binaries and modes alternate in every round.\n'
	} >>"$ROOT/bench/RESULTS.md"
	log "appended to bench/RESULTS.md"
fi
