# shellcheck shell=bash
# Helpers shared by bench/run.sh and bench/max_rate.sh. Source it, do not run it.
# Every wait in here is bounded.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"

VIGILD=${VIGILD:-$ROOT/build/vigild}
READY_TIMEOUT=${READY_TIMEOUT:-30}   # seconds to wait for "vigild: ready"
STOP_TIMEOUT=${STOP_TIMEOUT:-30}     # seconds to wait for vigild to exit after SIGTERM
SETTLE_TIMEOUT=${SETTLE_TIMEOUT:-20} # seconds to wait for a daemon to go idle after a workload
CLK_TCK=$(getconf CLK_TCK)

log() { printf '%s\n' "$*" >&2; }

# A benchmark on a busy machine measures the other work; say so.
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
check_quiet() {
	local l1
	l1=$(cut -d' ' -f1 /proc/loadavg)
	if awk -v l="$l1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; then
		log "warning: load average is $l1 on $(nproc) CPUs: other work is running, results will be noisy"
	fi
}
die() { log "error: $*"; exit 1; }

# usage: the calling script's header comment (line 2 up to `set -u`)
usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[-1]}" | sed '$d; s/^# \{0,1\}//'; }

# parse_record_args "$@": --record sets RECORD=1, -h/--help prints usage;
# anything else is an error (exit 2)
parse_record_args() {
	RECORD=0
	local a
	for a in "$@"; do
		case $a in
		--record) RECORD=1 ;;
		-h | --help) usage; exit 0 ;;
		*) log "unknown argument: $a"; usage >&2; exit 2 ;;
		esac
	done
}

# require_positive VAR...: each variable must hold a positive integer
require_positive() {
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
	done
}

# seconds since the epoch with microseconds (bash 5 EPOCHREALTIME)
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

# pid_alive PID: true if PID exists and is not a zombie
pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s:0:1} != Z ]]
}

# cpu_ticks PID...: summed utime+stime (in clock ticks) of the given pids (missing pids count 0)
cpu_ticks() {
	local p s total=0
	local -a f
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }
		read -r -a f <<<"$s"
		# after "comm) ": f[0]=state ... f[11]=utime f[12]=stime
		total=$((total + f[11] + f[12]))
	done
	printf '%s' "$total"
}

# rss_kib PID: VmRSS in KiB
rss_kib() {
	awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print "n/a" }' "/proc/$1/status" 2>/dev/null || printf 'n/a'
}

# settle PID...: wait (at most SETTLE_TIMEOUT s) until the pids use < 2 ticks per 250 ms,
# so work queued by one workload is not billed to the next one.
settle() {
	local i a b
	a=$(cpu_ticks "$@")
	for ((i = 0; i < SETTLE_TIMEOUT * 4; i++)); do
		sleep 0.25
		b=$(cpu_ticks "$@")
		((b - a < 2)) && return 0
		a=$b
	done
	log "warning: pids $* still busy after ${SETTLE_TIMEOUT}s"
	return 1
}

# ensure_workload: sets WORKLOAD to a workload binary built from bench/workload.c
ensure_workload() {
	local scratch=$1
	if [[ -n ${WORKLOAD:-} ]]; then
		[[ -x $WORKLOAD ]] || die "WORKLOAD=$WORKLOAD is not executable"
		return 0
	fi
	WORKLOAD=$ROOT/build/bench/workload
	if [[ -x $WORKLOAD && ! $ROOT/bench/workload.c -nt $WORKLOAD ]]; then
		return 0
	fi
	if make -s -C "$ROOT" build/bench/workload >&2; then
		return 0
	fi
	log "make build/bench/workload failed; compiling directly into $scratch"
	WORKLOAD=$scratch/workload
	gcc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -O2 \
		-o "$WORKLOAD" "$ROOT/bench/workload.c" -lpthread || die "cannot build the workload generator"
}

# vigild_start EVENTS_OUT SCRATCH_DIR: start vigild and wait for "vigild: ready".
# On success sets VIGILD_PID; on failure sets VIGILD_WHY and returns 1 (vigild is not left running).
VIGILD_PID=
VIGILD_WHY=
VIGILD_LOG=
VIGILD_RUNDIR=
vigild_start() {
	local events=$1 scratch=$2 i
	VIGILD_PID=
	VIGILD_WHY=
	if [[ ! -e $VIGILD ]]; then
		VIGILD_WHY="$VIGILD does not exist (not built yet: run 'make')"
		return 1
	fi
	if [[ ! -x $VIGILD ]]; then
		VIGILD_WHY="$VIGILD is not executable"
		return 1
	fi
	if ((EUID != 0)); then
		VIGILD_WHY="vigild needs root (loads eBPF programs)"
		return 1
	fi
	VIGILD_RUNDIR=$(mktemp -d "$scratch/vigild-run.XXXXXX")
	VIGILD_LOG=$scratch/vigild.stderr
	: >"$VIGILD_LOG"
	# shellcheck disable=SC2086 # VIGILD_ARGS is a list of options
	# the event store in the scratch directory (removed with it), not the
	# host's /var/lib/vigil; VIGILD_ARGS may override it (--no-store)
	"$VIGILD" --events-out "$events" --run-dir "$VIGILD_RUNDIR" --store "$scratch/store" ${VIGILD_ARGS:-} \
		</dev/null >"$scratch/vigild.stdout" 2>"$VIGILD_LOG" &
	VIGILD_PID=$!
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		if grep -q 'vigild: ready' "$VIGILD_LOG"; then
			return 0
		fi
		if ! pid_alive "$VIGILD_PID"; then
			local rc=0
			wait "$VIGILD_PID" 2>/dev/null || rc=$?
			VIGILD_WHY="vigild exited with status $rc before it was ready; last stderr lines: $(tail -n 5 "$VIGILD_LOG" | paste -sd ';' -)"
			VIGILD_PID=
			return 1
		fi
		sleep 0.1
	done
	VIGILD_WHY="vigild printed no 'vigild: ready' within ${READY_TIMEOUT}s; last stderr lines: $(tail -n 5 "$VIGILD_LOG" | paste -sd ';' -)"
	vigild_stop
	return 1
}

# vigild_stop: SIGTERM, wait at most STOP_TIMEOUT s, then SIGKILL. Returns 1 if vigild did not stop cleanly.
vigild_stop() {
	local i rc=0 ok=0
	[[ -n $VIGILD_PID ]] || return 0
	if pid_alive "$VIGILD_PID"; then
		kill -TERM "$VIGILD_PID" 2>/dev/null
		for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
			pid_alive "$VIGILD_PID" || break
			sleep 0.1
		done
		if pid_alive "$VIGILD_PID"; then
			log "warning: vigild (pid $VIGILD_PID) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
			kill -KILL "$VIGILD_PID" 2>/dev/null
			ok=1
		fi
	fi
	wait "$VIGILD_PID" 2>/dev/null || rc=$?
	if ((rc != 0 && ok == 0)); then
		log "warning: vigild exited with status $rc; last stderr lines:"
		tail -n 5 "$VIGILD_LOG" >&2
		ok=1
	fi
	VIGILD_PID=
	[[ -n $VIGILD_RUNDIR ]] && rm -rf -- "$VIGILD_RUNDIR"
	VIGILD_RUNDIR=
	return "$ok"
}

# machine_info: Markdown bullet list describing this machine
machine_info() {
	local cpu mem
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	[[ -n $cpu ]] || cpu=$(awk -F': *' '/^(Hardware|cpu model|Processor)/ { print $2; exit }' /proc/cpuinfo)
	[[ -n $cpu ]] || cpu=$(uname -m)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	printf -- '- machine: %s CPUs (nproc), %s, %s RAM\n' "$(nproc)" "$cpu" "$mem"
	printf -- '- kernel: %s (%s)\n' "$(uname -r)" "$(uname -m)"
	printf -- '- load average at start: %s\n' "$LOAD_AT_START"
	if [[ -r /etc/os-release ]]; then
		printf -- '- os: %s\n' "$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$ID}")"
	fi
	local rev dirty=
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || rev=n/a
	# GIT_OPTIONAL_LOCKS=0: never let status refresh (write) the index
	if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		dirty=' (uncommitted changes)'
	fi
	printf -- '- git: %s%s\n' "$rev" "$dirty"
}
