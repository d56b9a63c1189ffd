#!/usr/bin/env bash
# Sensor cost per system call: build/bench/syscall_cost times single calls
# in a tight loop (best of 3 timings each), without and with vigild, in an
# order that rotates every round, and the table gives the medians and what
# vigild adds in nanoseconds. Storm wall times (bench/run.sh) move by several percent from
# run to run on a shared VM; these figures resolve tens of nanoseconds, which
# is what a change to the eBPF side is worth.
#
#   bench/syscall_cost.sh [--record]
#
# Modes (bench/syscall_cost.c): getppid (no record: the cost every system
# call of the host pays), open (open + close of a file, no record), unlink
# and rename of a missing file (one record each), create (create + close +
# unlink: two records), openw (open for writing + close of an existing file:
# a record only in a watched directory or under a watched name), ioctl
# (FIONREAD on a pipe: no record, but every ioctl reaches the file exit
# handler, which keeps only chattr's requests). The calls
# run pinned to the last CPU, in a scratch directory on /dev/shm (tmpfs: no
# journal to add noise; a watched prefix) or SC_DIR (/run: not watched).
#
# The VM's speed drifts by ±10% over seconds, so one round is noise: with
# the defaults (10 rounds, ~3 min) the added nanoseconds repeat within
# about ±30 ns. To compare two builds, give the other daemon as VIGILD_B:
# its column is measured in the same rounds, and the last column is the
# median of the round-by-round differences between the two (the steadier
# figure: on this VM it resolved about 60 ns of per-syscall saving in 16
# rounds where the separate medians could not).
#
# Environment:
#   RUNS=10             rounds; each round runs every mode under every condition
#   COUNT=100000        calls per mode and timing
#   MODES="getppid open unlink rename create" (openw too; SC_DIR=/dev/shm)
#   VIGILD=build/vigild VIGILD_B= (a second daemon to compare)
#   VIGILD_ARGS=  READY_TIMEOUT=30 STOP_TIMEOUT=30
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

parse_record_args "$@"
RUNS=${RUNS:-10}
COUNT=${COUNT:-100000}
VIGILD_B=${VIGILD_B:-}
MODES=${MODES:-getppid open unlink rename create}
require_positive RUNS COUNT READY_TIMEOUT STOP_TIMEOUT
((EUID == 0)) || die "needs root (vigild loads eBPF programs)"
SC=$ROOT/build/bench/syscall_cost
if [[ ! -x $SC || $ROOT/bench/syscall_cost.c -nt $SC ]]; then
	make -s -C "$ROOT" build/bench/syscall_cost >&2 || die "cannot build build/bench/syscall_cost"
fi

SCRATCH=$(mktemp -d /tmp/vigil-syscall-cost.XXXXXX)
WORKDIR=$(mktemp -d "${SC_DIR:-/dev/shm}/vigil-syscall-cost.XXXXXX")
cleanup() {
	vigild_stop || true
	rm -rf -- "$SCRATCH" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
check_quiet

PIN=()
if command -v taskset >/dev/null; then
	PIN=(taskset -c "$(($(nproc) - 1))")
fi

measure() { # measure CONDITION: one timing of every mode into $SCRATCH/MODE.CONDITION
	local cond=$1 m line
	for m in $MODES; do
		line=$("${PIN[@]}" "$SC" "$m" --count "$COUNT" --rounds 3 --dir "$WORKDIR") || die "syscall_cost $m failed: $line"
		sed -n 's/.*"ns_per_op":\([0-9.]*\).*/\1/p' <<<"$line" >>"$SCRATCH/$m.$cond"
	done
}

CONDS=(baseline vigild)
[[ -n $VIGILD_B ]] && CONDS+=(vigild_b)
[[ -z $VIGILD_B || -x $VIGILD_B ]] || die "VIGILD_B=$VIGILD_B is not executable"
VIGILD_A=$VIGILD
for ((r = 1; r <= RUNS; r++)); do
	log "round $r/$RUNS"
	for ((k = 0; k < ${#CONDS[@]}; k++)); do
		cond=${CONDS[$(((k + r) % ${#CONDS[@]}))]}
		if [[ $cond == baseline ]]; then
			measure baseline
			continue
		fi
		VIGILD=$VIGILD_A
		[[ $cond == vigild_b ]] && VIGILD=$VIGILD_B
		vigild_start /dev/null "$SCRATCH" || die "$VIGILD_WHY"
		sleep 1 # let the /proc scan pass
		measure "$cond"
		vigild_stop || true
	done
done
VIGILD=$VIGILD_A

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

table() {
	local m b v rec c
	printf '| call | records | baseline ns |'
	for c in "${CONDS[@]:1}"; do printf ' %s ns | %s added ns |' "$c" "$c"; done
	[[ -n $VIGILD_B ]] && printf ' vigild − vigild_b, paired ns |'
	printf '\n|---|---:|---:|'
	for c in "${CONDS[@]:1}"; do printf -- '---:|---:|'; done
	[[ -n $VIGILD_B ]] && printf -- '---:|'
	printf '\n'
	for m in $MODES; do
		b=$(median "$SCRATCH/$m.baseline")
		case $m in
		getppid | open | ioctl) rec=0 ;;
		create) rec=2 ;;
		openw) [[ ${SC_DIR:-/dev/shm} == /dev/shm ]] && rec=1 || rec=0 ;;
		*) rec=1 ;;
		esac
		printf '| %s | %d | %.0f |' "$m" "$rec" "$b"
		for c in "${CONDS[@]:1}"; do
			v=$(median "$SCRATCH/$m.$c")
			awk -v b="$b" -v v="$v" 'BEGIN { printf " %.0f | %+.0f |", v, v - b }'
		done
		if [[ -n $VIGILD_B ]]; then
			# round by round: the two daemons ran seconds apart, so the
			# VM's drift cancels out of the difference
			paste "$SCRATCH/$m.vigild" "$SCRATCH/$m.vigild_b" | awk '{ print $1 - $2 }' >"$SCRATCH/$m.diff"
			printf ' %+.0f |' "$(median "$SCRATCH/$m.diff")"
		fi
		printf '\n'
	done
	printf '\nMedian over %d rounds of the best of 3 timings of %d calls each, pinned to one CPU, in a tmpfs directory; conditions in rotating order.\n' "$RUNS" "$COUNT"
	[[ -n $VIGILD_B ]] && printf 'vigild = %s, vigild_b = %s\n' "$VIGILD_A" "$VIGILD_B"
	return 0
}

TABLE=$(table)
printf '%s\n' "$TABLE"
if ((RECORD)); then
	{
		printf '\n## %s — bench/syscall_cost.sh\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		printf -- '- command: `%sRUNS=%s COUNT=%s bench/syscall_cost.sh --record`\n' \
			"${VIGILD_ARGS:+VIGILD_ARGS=\"$VIGILD_ARGS\" }${VIGILD_B:+VIGILD_B=$VIGILD_B }" "$RUNS" "$COUNT"
		machine_info
		printf '\n%s\n' "$TABLE"
	} >>"$BENCH_DIR/RESULTS.md"
	log "appended to $BENCH_DIR/RESULTS.md"
fi
