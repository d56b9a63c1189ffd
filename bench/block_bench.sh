#!/usr/bin/env bash
# Cost of `vigil block` on an exec storm: 10,000 blocked hashes loaded against
# vigild with no blocks and against no vigild at all.
#
#   bench/block_bench.sh [--record]
#
# Conditions, interleaved round by round (each starts its own vigild):
#   baseline   no vigild
#   vigild     vigild, no blocks (the sensor alone)
#   blocks     vigild with NBLOCKS random sha256 blocks (fanotify: every
#              filesystem marked; the exec'd binary is hashed once, then an
#              ignore mark keeps later execs of it away from vigild)
#   fallback   the same blocks with block_fanotify = off (eBPF kill at exec:
#              one hash-map lookup per exec; plus the background scan)
# Workloads:
#   exec       `workload exec`: EXEC_N fork+execve of /bin/true (hot: one binary)
#   fresh      FRESH_N distinct never-seen binaries, each exec'd once (cold: every
#              exec is judged, i.e. hashed, by vigild under fanotify)
# Reports, per cell, the median and the minimum wall time of RUNS runs, the
# workload's own CPU time (user+sys, children included) and vigild's CPU time
# during the run, with ratios to baseline. On a shared machine trust the
# minimum and the CPU columns more than the median.
#
# Environment: RUNS=5 EXEC_N=2000 FRESH_N=300 NBLOCKS=10000
#   CONDITIONS="baseline vigild blocks fallback"   WORKLOADS="exec fresh"
#   VIGILD=build/vigild  VIGIL=build/vigil  WORKLOAD=build/bench/workload
#   READY_TIMEOUT=30 STOP_TIMEOUT=30 WORKLOAD_TIMEOUT=120
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_record_args "$@"

RUNS=${RUNS:-5}
EXEC_N=${EXEC_N:-2000}
FRESH_N=${FRESH_N:-300}
NBLOCKS=${NBLOCKS:-10000}
CONDITIONS=${CONDITIONS:-baseline vigild blocks fallback}
WORKLOADS=${WORKLOADS:-exec fresh}
WORKLOAD_TIMEOUT=${WORKLOAD_TIMEOUT:-120}
VIGIL=${VIGIL:-$(dirname "$VIGILD")/vigil}
WORKLOAD=${WORKLOAD:-$(dirname "$VIGILD")/bench/workload}
require_positive RUNS EXEC_N FRESH_N NBLOCKS WORKLOAD_TIMEOUT
((EUID == 0)) || die "needs root (vigild, fanotify)"
[[ -x $VIGILD ]] || die "$VIGILD is not built"
[[ -x $VIGIL ]] || die "$VIGIL is not built"
[[ -x $WORKLOAD ]] || die "$WORKLOAD is not built (make build/bench/workload)"
for c in $CONDITIONS; do
	case $c in baseline | vigild | blocks | fallback) ;; *) die "unknown condition '$c'" ;; esac
done

SCRATCH=$(mktemp -d /tmp/vigil-blkbench.XXXXXX) || die "mktemp failed"
PID=
cleanup() {
	if [[ -n $PID ]] && pid_alive "$PID"; then
		kill -TERM "$PID" 2>/dev/null
		sleep 1
		pid_alive "$PID" && kill -KILL "$PID" 2>/dev/null
	fi
	rm -rf -- "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# NBLOCKS random digests in the file format vigild restores at start
BLOCKS_FILE=$SCRATCH/blocks.template
{
	echo "# vigil blocks: kind added-unix-time denied-execs value (written by block_bench.sh)"
	head -c $((NBLOCKS * 32)) /dev/urandom | od -An -v -tx1 | tr -d ' \n' | fold -w 64 |
		awk -v t="$(date +%s)" '{ print "hash", t, 0, $0 }'
} >"$BLOCKS_FILE"
(($(grep -c '^hash' "$BLOCKS_FILE") == NBLOCKS)) || die "could not generate $NBLOCKS digests"

# FRESH_N distinct binaries per run (a new tail each: never hashed, never cached)
make_fresh() {
	local dir=$1 i
	mkdir -p "$dir"
	for ((i = 0; i < FRESH_N; i++)); do
		cp /bin/true "$dir/t$i"
		printf 'vigil-bench-%s-%s' "$dir" "$i" >>"$dir/t$i"
	done
	chmod 755 "$dir"/t*
}

# start_cond COND: starts vigild for the condition (none for baseline); sets PID
start_cond() {
	local c=$1 dir=$SCRATCH/$1 i
	PID=
	[[ $c == baseline ]] && return 0
	rm -rf "$dir"
	mkdir -p "$dir/respond" "$dir/run"
	chmod 700 "$dir/respond"
	{
		echo "metrics_interval = 10"
		echo "response_dir = $dir/respond"
		[[ $c == fallback ]] && echo "block_fanotify = off"
	} >"$dir/conf"
	if [[ $c == blocks || $c == fallback ]]; then
		install -m 600 "$BLOCKS_FILE" "$dir/respond/blocks"
	fi
	"$VIGILD" --config "$dir/conf" --events-out /dev/null --run-dir "$dir/run" --no-store \
		</dev/null >/dev/null 2>"$dir/stderr" &
	PID=$!
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		grep -qs 'vigild: ready' "$dir/stderr" && break
		pid_alive "$PID" || die "vigild ($c) exited: $(tail -n 3 "$dir/stderr")"
		sleep 0.1
	done
	grep -q 'vigild: ready' "$dir/stderr" || die "vigild ($c) not ready in ${READY_TIMEOUT}s"
	if [[ $c == blocks || $c == fallback ]]; then
		local n
		n=$("$VIGIL" --run-dir "$dir/run" blocks | grep -c '^hash')
		((n == NBLOCKS)) || die "vigild ($c) restored $n blocks, not $NBLOCKS"
	fi
	settle "$PID" || true
}

stop_cond() {
	local i
	[[ -n $PID ]] || return 0
	kill -TERM "$PID" 2>/dev/null
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		pid_alive "$PID" || break
		sleep 0.1
	done
	pid_alive "$PID" && kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}

# run_workload W COND ROUND: prints "wall user+sys" seconds (CPU of the workload
# and its children; vigild's CPU is counted apart). CPU time is the steadier
# number on a shared machine: waiting for a CPU does not count in it.
run_workload() {
	local w=$1 c=$2 round=$3 dir t
	local TIMEFORMAT='%R %U %S'
	case $w in
	exec)
		t=$({ time timeout "$WORKLOAD_TIMEOUT" "$WORKLOAD" exec --count "$EXEC_N" >/dev/null; } 2>&1) || return 1
		;;
	fresh)
		dir=$SCRATCH/fresh-$c-$round
		make_fresh "$dir"
		sync
		t=$({ time for ((i = 0; i < FRESH_N; i++)); do "$dir/t$i" || echo "warning: $dir/t$i failed" >&2; done; } 2>&1)
		rm -rf "$dir"
		;;
	esac
	awk '{ printf "%.4f %.4f\n", $1, $2 + $3 }' <<<"$t"
}

check_quiet
log "block_bench: $NBLOCKS blocks, RUNS=$RUNS EXEC_N=$EXEC_N FRESH_N=$FRESH_N, conditions: $CONDITIONS"
declare -A CPU=()
for ((r = 1; r <= RUNS; r++)); do
	for c in $CONDITIONS; do
		start_cond "$c"
		"$WORKLOAD" exec --count 50 >/dev/null # warm caches (and ignore marks) alike
		for w in $WORKLOADS; do
			a=$([[ -n $PID ]] && cpu_ticks "$PID" || echo 0)
			s=$(run_workload "$w" "$c" "$r")
			[[ $s =~ ^[0-9.]+\ [0-9.]+$ ]] || die "workload $w failed under $c: $s"
			b=$([[ -n $PID ]] && cpu_ticks "$PID" || echo 0)
			echo "${s% *}" >>"$SCRATCH/$w.$c"
			echo "${s#* }" >>"$SCRATCH/$w.$c.wcpu"
			echo "$((b - a))" >>"$SCRATCH/$w.$c.cpu"
			log "round $r $c $w: wall ${s% *}s, cpu ${s#* }s"
		done
		if [[ -n $PID && $c != baseline ]]; then
			"$VIGIL" --run-dir "$SCRATCH/$c/run" blocks --json >"$SCRATCH/$c.blocks.json" 2>/dev/null || true
		fi
		stop_cond
	done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

minimum() { sort -g | head -n 1; }

table() {
	local w c n base bmin bcpu
	echo "| workload | condition | wall median s | ×base | wall min s | ×base | workload CPU s (median) | ×base | vigild CPU s (median) | µs per exec (median wall) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for w in $WORKLOADS; do
		n=$([[ $w == exec ]] && echo "$EXEC_N" || echo "$FRESH_N")
		base=$(median <"$SCRATCH/$w.baseline" 2>/dev/null)
		bmin=$(minimum <"$SCRATCH/$w.baseline" 2>/dev/null)
		bcpu=$(median <"$SCRATCH/$w.baseline.wcpu" 2>/dev/null)
		for c in $CONDITIONS; do
			awk -v w="$w" -v c="$c" -v n="$n" -v tck="$CLK_TCK" \
				-v m="$(median <"$SCRATCH/$w.$c")" -v mn="$(minimum <"$SCRATCH/$w.$c")" \
				-v wc="$(median <"$SCRATCH/$w.$c.wcpu")" -v cpu="$(median <"$SCRATCH/$w.$c.cpu")" \
				-v b="${base:-0}" -v bm="${bmin:-0}" -v bc="${bcpu:-0}" '
				function r(x, y) { return y > 0 ? sprintf("%.2f", x / y) : "n/a" }
				BEGIN {
				printf "| %s | %s | %.3f | %s | %.3f | %s | %.3f | %s | %s | %.0f |\n", w, c, m, r(m, b), mn, r(mn, bm),
					wc, r(wc, bc), (c == "baseline" ? "-" : sprintf("%.2f", cpu / tck)), m / n * 1e6 }'
		done
	done
}

OUT=$SCRATCH/table.md
{
	echo "$NBLOCKS blocked sha256 digests; \`workload exec\` = $EXEC_N fork+execve of /bin/true; \`fresh\` = $FRESH_N distinct never-seen binaries exec'd once each (from bash). Median of $RUNS runs."
	echo
	table
	echo
	for c in blocks fallback; do
		[[ -s $SCRATCH/$c.blocks.json ]] || continue
		python3 - "$SCRATCH/$c.blocks.json" "$c" <<-'EOF' 2>/dev/null || true
			import json, sys
			b = json.load(open(sys.argv[1]))
			keys = ["mode", "marks", "events", "hashed", "ignore_marks", "denied", "errors", "overflows", "scans", "scanned_files"]
			print(f"- {sys.argv[2]} (last round): " + ", ".join(f"{k} {b[k]}" for k in keys if k in b))
		EOF
	done
	echo
	machine_info
} >"$OUT"
cat "$OUT"
if ((RECORD)); then
	{
		echo
		echo "## Response: block before exec ($(date -u +%Y-%m-%d))"
		echo
		echo "\`RUNS=$RUNS EXEC_N=$EXEC_N FRESH_N=$FRESH_N NBLOCKS=$NBLOCKS bench/block_bench.sh\`"
		echo
		cat "$OUT"
	} >>"$ROOT/bench/RESULTS.md"
	log "appended to bench/RESULTS.md"
fi
