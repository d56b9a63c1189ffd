#!/usr/bin/env bash
# Highest event rate vigild sustains without drops.
#
#   bench/max_rate.sh [--no-vigild] [--record]
#
# Starts vigild (events to a temporary file), then runs `workload rate` at each
# rate in RATES for STEP_SECONDS each and reports, per step: the rate the
# generator achieved, vigild's events/s and drops (from the last
# "vigil_metrics" event vigild wrote), vigild CPU% (utime+stime from
# /proc/<pid>/stat over the step; 100% = one core) and VmRSS.
# --no-vigild runs the same steps without vigild: the generator's own ceiling.
#
# Environment:
#   RATES="10000 25000 50000 75000 100000"  STEP_SECONDS=10  THREADS=2
#   RATE_DIR=/dev/shm (where the file events happen; tmpfs so the disk is not the limit)
#   EVENTS_DIR=/var/tmp (where vigild's event file goes; it can grow to GBs, space is
#   reclaimed as the script goes)   METRICS_WAIT=15 (s to wait for a fresh metrics event)
#   VIGILD=build/vigild  READY_TIMEOUT=30  STOP_TIMEOUT=30
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


USE_VIGILD=1
RECORD=0
for a in "$@"; do
	case $a in
	--no-vigild) USE_VIGILD=0 ;;
	--record) RECORD=1 ;;
	-h | --help) usage; exit 0 ;;
	*) log "unknown argument: $a"; usage >&2; exit 2 ;;
	esac
done

RATES=${RATES:-10000 25000 50000 75000 100000}
STEP_SECONDS=${STEP_SECONDS:-10}
THREADS=${THREADS:-2}
RATE_DIR=${RATE_DIR:-/dev/shm}
EVENTS_DIR=${EVENTS_DIR:-/var/tmp}
METRICS_WAIT=${METRICS_WAIT:-15}
require_positive STEP_SECONDS THREADS METRICS_WAIT READY_TIMEOUT STOP_TIMEOUT
((STEP_SECONDS <= 600)) || die "STEP_SECONDS must be <= 600"
for r in $RATES; do [[ $r =~ ^[1-9][0-9]*$ ]] || die "bad rate '$r' in RATES"; done
[[ -d $RATE_DIR && -w $RATE_DIR ]] || { log "RATE_DIR=$RATE_DIR not writable, using /tmp"; RATE_DIR=/tmp; }

COMMAND="${VIGILD_ARGS:+VIGILD_ARGS=\"$VIGILD_ARGS\" }RATES=\"$RATES\" STEP_SECONDS=$STEP_SECONDS THREADS=$THREADS RATE_DIR=$RATE_DIR bench/max_rate.sh"
((USE_VIGILD)) || COMMAND+=" --no-vigild"
((RECORD)) && COMMAND+=" --record"

SCRATCH=$(mktemp -d /tmp/vigil-maxrate.XXXXXX) || die "mktemp failed"
EVDIR=$(mktemp -d "$EVENTS_DIR/vigil-maxrate-events.XXXXXX") || die "cannot create a directory in EVENTS_DIR=$EVENTS_DIR"
EVENTS=$EVDIR/events.jsonl

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $VIGILD_PID ]]; then vigild_stop; fi
	rm -rf -- "$SCRATCH" "$EVDIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

ensure_workload "$SCRATCH"
check_quiet

# ---------------------------------------------------------------- metrics from the event file
# Only the bytes written since the last metrics event are scanned; the bytes before it
# are punched out of the file (it stays sparse) so long runs do not fill the disk.
SCAN_OFF=0        # where the next scan starts (position of the last metrics line found)
METRICS_POS=-1    # absolute position of the last metrics line found
METRICS_LINE=
METRICS_SEEN=0    # how many distinct metrics lines were found so far
scan_metrics() {
	local size hit off line
	[[ -f $EVENTS ]] || return 0
	size=$(stat -c %s "$EVENTS") || return 0
	((size > SCAN_OFF)) || return 0
	# last complete (newline-terminated) metrics line in [SCAN_OFF, size)
	hit=$(tail -c +"$((SCAN_OFF + 1))" "$EVENTS" | head -c "$((size - SCAN_OFF))" |
		LC_ALL=C grep -a -b '"action":"vigil_metrics"' |
		LC_ALL=C awk -v n="$((size - SCAN_OFF))" '{ o = $0; sub(/:.*/, "", o); l = $0; sub(/^[0-9]+:/, "", l)
			if (o + length(l) + 1 <= n) last = $0 } END { if (last != "") print last }')
	[[ -n $hit ]] || return 0
	off=${hit%%:*}
	line=${hit#*:}
	if ((SCAN_OFF + off > METRICS_POS)); then
		METRICS_POS=$((SCAN_OFF + off))
		METRICS_SEEN=$((METRICS_SEEN + 1))
		METRICS_LINE=$line
	fi
	SCAN_OFF=$METRICS_POS
	fallocate --punch-hole --offset 0 --length "$SCAN_OFF" "$EVENTS" 2>/dev/null || true
}
metric() { # metric NAME: a number from the last metrics line, or n/a
	local v
	v=$(grep -o "\"$1\":[0-9.eE+-]*" <<<"$METRICS_LINE" | tail -n 1 | cut -d: -f2)
	printf '%s' "${v:-n/a}"
}
# wait (at most METRICS_WAIT s) for a metrics event newer than the last one seen
wait_metrics() {
	local before=$METRICS_SEEN i
	for ((i = 0; i < METRICS_WAIT * 4; i++)); do
		scan_metrics
		((METRICS_SEEN > before)) && return 0
		pid_alive "$VIGILD_PID" || return 1
		sleep 0.25
	done
	return 1
}

# ---------------------------------------------------------------- run
if ((USE_VIGILD)); then
	if ! vigild_start "$EVENTS" "$SCRATCH"; then
		log "max_rate: cannot run: $VIGILD_WHY"
		log "(bench/max_rate.sh --no-vigild measures the generator alone)"
		exit 1
	fi
	log "vigild ready (pid $VIGILD_PID), events to $EVENTS"
	wait_metrics || log "note: no vigil_metrics event within ${METRICS_WAIT}s of start; drops will be read after each step"
fi

ROWS=()
START=$(now)
for rate in $RATES; do
	drops0=n/a
	if ((USE_VIGILD)); then
		scan_metrics
		drops0=$(metric drops_total)
		ticks0=$(cpu_ticks "$VIGILD_PID")
	fi
	t0=$(now)
	out=$(timeout -k 5 "$((STEP_SECONDS + 30))" "$WORKLOAD" rate --rate "$rate" --seconds "$STEP_SECONDS" \
		--threads "$THREADS" --dir "$RATE_DIR" 2>"$SCRATCH/wl.err") || log "warning: workload at $rate/s: $(head -c 300 "$SCRATCH/wl.err")"
	t1=$(now)
	achieved=$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$out")
	achieved=$(printf '%.0f' "${achieved:-0}")
	if ((USE_VIGILD)); then
		ticks1=$(cpu_ticks "$VIGILD_PID")
		rss=$(rss_kib "$VIGILD_PID")
		cpu=$(awk -v d="$((ticks1 - ticks0))" -v hz="$CLK_TCK" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
			'BEGIN { printf "%.1f", d / hz / s * 100 }')
		if ! pid_alive "$VIGILD_PID"; then
			ROWS+=("| $rate | $achieved | vigild died | | | | |")
			log "vigild died at $rate/s: $(tail -n 5 "$VIGILD_LOG" | paste -sd ';' -)"
			break
		fi
		wait_metrics || log "warning: no fresh vigil_metrics event within ${METRICS_WAIT}s after the $rate/s step"
		drops1=$(metric drops_total)
		eps=$(metric events_per_sec)
		if [[ $drops0 =~ ^[0-9]+$ && $drops1 =~ ^[0-9]+$ ]]; then
			dstep=$((drops1 - drops0))
		elif [[ $drops1 =~ ^[0-9]+$ ]]; then
			dstep="≤$drops1"
		else
			dstep=n/a
		fi
		rss_mib=$(awk -v k="$rss" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f", k / 1024; else print "n/a" }')
		ROWS+=("| $rate | $achieved | $eps | $dstep | $drops1 | $cpu | $rss_mib |")
		log "  $rate/s: achieved $achieved/s, vigild $eps ev/s, drops $dstep (total $drops1), cpu $cpu%, rss $rss_mib MiB"
	else
		ROWS+=("| $rate | $achieved |")
		log "  $rate/s: achieved $achieved/s"
	fi
done
ELAPSED=$(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')

table() {
	if ((USE_VIGILD)); then
		printf '| target ev/s | achieved ev/s | vigild events/s | drops in step | drops total | vigild CPU %% | vigild RSS MiB |\n'
		printf '|---:|---:|---:|---:|---:|---:|---:|\n'
	else
		printf '| target ev/s | achieved ev/s (no sensor) |\n|---:|---:|\n'
	fi
	printf '%s\n' "${ROWS[@]}"
	printf '\n%s s per step, %s generator threads, file events in %s. ' "$STEP_SECONDS" "$THREADS" "$RATE_DIR"
	printf 'Achieved = events the generator made per second (2 per create+unlink, connect+accept, fork+exit). '
	((USE_VIGILD)) && printf 'vigild events/s and drops from its last vigil_metrics event; CPU %% = utime+stime over the step (100 = one core).'
	printf '\n\nWall time: %s s.\n' "$ELAPSED"
}
TABLE=$(table)
printf '%s\n' "$TABLE"

if ((USE_VIGILD)); then
	vigild_stop || log "warning: vigild did not stop cleanly"
fi

if ((RECORD)); then
	[[ -s $BENCH_DIR/RESULTS.md ]] || printf '# vigil benchmark results\n' >"$BENCH_DIR/RESULTS.md"
	{
		printf '\n## %s — bench/max_rate.sh\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		printf -- '- command: `%s`\n' "$COMMAND"
		machine_info
		printf '\n%s\n' "$TABLE"
	} >>"$BENCH_DIR/RESULTS.md"
	log "appended to $BENCH_DIR/RESULTS.md"
fi
