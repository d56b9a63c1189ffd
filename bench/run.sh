#!/usr/bin/env bash
# Sensor overhead benchmark: every workload under four conditions, interleaved.
#
#   bench/run.sh [--record]
#
# Conditions: baseline (no sensor), vigild (build/vigild --events-out /dev/null),
# auditd (auditd + syscall rules roughly equivalent to what vigild records),
# busy (no sensor; `workload spin` keeps one other CPU busy without a system
# call: the control for what any user-space consumer that runs while the
# workload runs costs it on this machine, through shared caches, hyperthread
# siblings or the hypervisor; ~1.00 where CPUs are independent).
# Each round starts one condition, runs every workload once, stops the condition,
# then moves to the next condition; the order rotates by one every round.
# Reports the median wall time per workload and condition, and the ratio
# median_condition / median_baseline (1.00 = no overhead, 2.00 = twice as slow).
#
# Environment (defaults keep a full run under ~5 minutes on 2 cores):
#   RUNS=5 EXEC_N=1000 FILE_N=10000 OPEN_N=100000 CONNECT_N=10000 MIXED_N=200
#   REPEAT=1 (runs of each workload per condition and round: the run-to-run
#     spread here is ~10%, and repeats add samples without another start-up)
#   WORKLOADS="exec file open connect mixed"   CONDITIONS="baseline vigild auditd busy"
#   VIGILD=build/vigild   VIGILD_ARGS= (extra vigild options, e.g. --no-store)
#   CONDITIONS may add vigild_b: a second vigild column, VIGILD_B (default
#     $VIGILD) with VIGILD_B_ARGS, to compare two builds or two configurations
#     in the same rounds (a few percent is below the spread between sittings)
#   WORKLOAD=(default build/bench/workload, built if missing)
#   WORKLOAD_DIR=loop (where the file and open workloads work; "loop" = a fresh
#     journaled ext4 on a loop device that the script makes and removes,
#     because on a root ext4 without a journal the file storm drifts with the
#     history of deleted inodes: see bench/README.md)
#   WORKLOAD_TIMEOUT=120 (s, per workload run)   READY_TIMEOUT=30   STOP_TIMEOUT=30
#   AUDIT_BACKLOG=8192 (kernel audit backlog while the auditd column runs)
#   VIGILD_STOPPED=1: stop vigild (SIGSTOP) once it is ready, so the vigild
#     column measures the kernel side alone (eBPF programs, tracepoint
#     dispatch); records past the ring buffer's size are dropped (counted)
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


parse_record_args "$@"

RUNS=${RUNS:-5}
REPEAT=${REPEAT:-1}
EXEC_N=${EXEC_N:-1000}
FILE_N=${FILE_N:-10000}
OPEN_N=${OPEN_N:-100000}
CONNECT_N=${CONNECT_N:-10000}
MIXED_N=${MIXED_N:-200}
WORKLOADS=${WORKLOADS:-exec file open connect mixed}
CONDITIONS=${CONDITIONS:-baseline vigild auditd busy}
WORKLOAD_TIMEOUT=${WORKLOAD_TIMEOUT:-120}
WORKLOAD_DIR=${WORKLOAD_DIR:-loop}
AUDIT_BACKLOG=${AUDIT_BACKLOG:-8192}
VIGILD_STOPPED=${VIGILD_STOPPED:-0}
AUDIT_KEY=vigilbench
# shellcheck disable=SC2054 # the commas belong to auditctl
AUDIT_RULE=(-a always,exit -F arch=b64 -S execve,execveat,openat,connect,rename,renameat,renameat2,unlink,unlinkat,chmod,fchmodat -k "$AUDIT_KEY")

require_positive RUNS REPEAT EXEC_N FILE_N OPEN_N CONNECT_N MIXED_N WORKLOAD_TIMEOUT READY_TIMEOUT STOP_TIMEOUT AUDIT_BACKLOG
((RUNS <= 100)) || die "RUNS must be <= 100"
((REPEAT <= 20)) || die "REPEAT must be <= 20"
for w in $WORKLOADS; do
	case $w in exec | file | open | connect | mixed) ;; *) die "unknown workload '$w' in WORKLOADS" ;; esac
done
for c in $CONDITIONS; do
	case $c in baseline | vigild | vigild_b | auditd | busy) ;; *) die "unknown condition '$c' in CONDITIONS" ;; esac
done
[[ " $CONDITIONS " == *" baseline "* ]] || die "CONDITIONS must include baseline (ratios are relative to it)"

count_for() {
	case $1 in
	exec) printf '%s' "$EXEC_N" ;;
	file) printf '%s' "$FILE_N" ;;
	open) printf '%s' "$OPEN_N" ;;
	connect) printf '%s' "$CONNECT_N" ;;
	mixed) printf '%s' "$MIXED_N" ;;
	esac
}

[[ $VIGILD_STOPPED == [01] ]] || die "VIGILD_STOPPED must be 0 or 1 (got '$VIGILD_STOPPED')"
STOPPED_PREFIX=
((VIGILD_STOPPED)) && STOPPED_PREFIX="VIGILD_STOPPED=1 "
VIGILD_B=${VIGILD_B:-$VIGILD}
VIGILD_B_ARGS=${VIGILD_B_ARGS:-}
VIGILD_A=$VIGILD
VIGILD_A_ARGS=${VIGILD_ARGS:-}
B_PREFIX=
if [[ " $CONDITIONS " == *" vigild_b "* ]]; then
	[[ $VIGILD_B != "$VIGILD" ]] && B_PREFIX+="VIGILD_B=$VIGILD_B "
	[[ -n $VIGILD_B_ARGS ]] && B_PREFIX+="VIGILD_B_ARGS=\"$VIGILD_B_ARGS\" "
fi
COMMAND="${VIGILD_ARGS:+VIGILD_ARGS=\"$VIGILD_ARGS\" }${B_PREFIX}${STOPPED_PREFIX}RUNS=$RUNS EXEC_N=$EXEC_N FILE_N=$FILE_N OPEN_N=$OPEN_N CONNECT_N=$CONNECT_N MIXED_N=$MIXED_N"
((REPEAT != 1)) && COMMAND+=" REPEAT=$REPEAT"
[[ $WORKLOADS != "exec file open connect mixed" ]] && COMMAND+=" WORKLOADS=\"$WORKLOADS\""
[[ $WORKLOAD_DIR != loop ]] && COMMAND+=" WORKLOAD_DIR=$WORKLOAD_DIR"
[[ $CONDITIONS != "baseline vigild auditd busy" ]] && COMMAND+=" CONDITIONS=\"$CONDITIONS\""
COMMAND+=" bench/run.sh$( ((RECORD)) && printf ' --record')"

SCRATCH=$(mktemp -d /tmp/vigil-bench.XXXXXX) || die "mktemp failed"
RES=$SCRATCH/results
mkdir -p "$RES"

declare -A SKIP=()   # condition -> reason it is skipped / failed
declare -A ACTIVE=() # condition -> 1 if it is measured

# ---------------------------------------------------------------- auditd control
AUDIT_TOUCHED=0    # 1 once we changed the kernel audit state
AUDIT_ORIG_ENABLED=
AUDIT_ORIG_BACKLOG=
AUDITD_PID=        # auditd started by us (auditd -n, our child)
KAUDITD_PID=

audit_status() { auditctl -s 2>/dev/null | awk -v k="$1" '$1 == k { print $2; exit }'; }

# audit_preflight: decide whether auditctl may be used at all. Sets AUDIT_OK=1 or a reason.
AUDIT_OK=0
AUDIT_WHY=
audit_preflight() {
	if ((EUID != 0)); then
		AUDIT_WHY="not root"
	elif ! command -v auditctl >/dev/null; then
		AUDIT_WHY="auditctl not installed (apt-get install auditd)"
	elif ! command -v auditd >/dev/null; then
		AUDIT_WHY="auditd not installed (apt-get install auditd)"
	elif ! auditctl -s >/dev/null 2>&1; then
		AUDIT_WHY="auditctl -s fails: $(auditctl -s 2>&1 | head -n 1) (kernel without audit support, or no CAP_AUDIT_CONTROL in this container)"
	elif [[ $(audit_status enabled) == 2 ]]; then
		AUDIT_WHY="audit configuration is locked (enabled 2); rules cannot be changed until reboot"
	elif [[ $(auditctl -l 2>/dev/null) != "No rules" ]]; then
		AUDIT_WHY="audit rules are already loaded on this host; run.sh will not replace them (auditctl -l)"
	else
		AUDIT_OK=1
		AUDIT_ORIG_ENABLED=$(audit_status enabled)
		AUDIT_ORIG_BACKLOG=$(audit_status backlog_limit)
		KAUDITD_PID=$(pgrep -x kauditd | head -n 1)
	fi
}

# Once audit has been enabled on a host (even once, even if disabled again) the kernel
# marks every new task for syscall auditing, which slows the syscall path of every
# process (~15% on an open/close loop here). While the baseline and vigild columns run,
# a "never,task" rule keeps new tasks (the workload, vigild) out of it.
audit_neutral() {
	((AUDIT_OK)) || return 0
	AUDIT_TOUCHED=1
	auditctl -D >/dev/null 2>&1
	auditctl -a never,task >/dev/null 2>&1 || log "warning: auditctl -a never,task failed"
	if [[ -n $AUDIT_ORIG_ENABLED ]]; then
		auditctl -e "$AUDIT_ORIG_ENABLED" >/dev/null 2>&1
	fi
}

auditd_running_pid() {
	local p
	p=$(audit_status pid)
	[[ -n $p && $p != 0 ]] && pid_alive "$p" && printf '%s' "$p"
}

audit_start() {
	local i p
	AUDIT_TOUCHED=1
	p=$(auditd_running_pid)
	if [[ -z $p ]]; then
		auditd -n </dev/null >>"$SCRATCH/auditd.log" 2>&1 &
		AUDITD_PID=$!
		for ((i = 0; i < 100; i++)); do
			p=$(auditd_running_pid)
			[[ -n $p ]] && break
			pid_alive "$AUDITD_PID" || break
			sleep 0.1
		done
		if [[ -z $p ]]; then
			SKIP[auditd]="auditd did not register with the kernel within 10 s: $(tail -n 3 "$SCRATCH/auditd.log" | paste -sd ';' -)"
			audit_stop
			return 1
		fi
	fi
	AUDIT_DAEMON_PID=$p
	auditctl -D >/dev/null 2>&1
	auditctl -b "$AUDIT_BACKLOG" >/dev/null || log "warning: auditctl -b $AUDIT_BACKLOG failed"
	if ! auditctl -e 1 >/dev/null; then
		SKIP[auditd]="auditctl -e 1 failed"
		audit_stop
		return 1
	fi
	if ! auditctl "${AUDIT_RULE[@]}" >"$SCRATCH/auditctl.err" 2>&1; then
		SKIP[auditd]="auditctl ${AUDIT_RULE[*]} failed: $(head -n 2 "$SCRATCH/auditctl.err" | tr '\n' ' ')"
		audit_stop
		return 1
	fi
	return 0
}

# audit_stop: remove our rules, restore enabled/backlog, stop auditd if we started it
audit_stop() {
	local i
	auditctl -D >/dev/null 2>&1
	audit_neutral
	[[ -n $AUDIT_ORIG_BACKLOG ]] && auditctl -b "$AUDIT_ORIG_BACKLOG" >/dev/null 2>&1
	if [[ -n $AUDITD_PID ]]; then
		kill -TERM "$AUDITD_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			pid_alive "$AUDITD_PID" || break
			sleep 0.1
		done
		if pid_alive "$AUDITD_PID"; then
			log "warning: auditd did not exit 10 s after SIGTERM; sending SIGKILL"
			kill -KILL "$AUDITD_PID" 2>/dev/null
		fi
		wait "$AUDITD_PID" 2>/dev/null
		AUDITD_PID=
	fi
}

# audit_restore: leave the audit state as found (no rules, original enabled/backlog)
audit_restore() {
	((AUDIT_TOUCHED)) || return 0
	auditctl -D >/dev/null 2>&1
	[[ -n $AUDIT_ORIG_ENABLED ]] && auditctl -e "$AUDIT_ORIG_ENABLED" >/dev/null 2>&1
	[[ -n $AUDIT_ORIG_BACKLOG ]] && auditctl -b "$AUDIT_ORIG_BACKLOG" >/dev/null 2>&1
	AUDIT_TOUCHED=0
}

# wait (bounded) until the kernel audit backlog is empty and auditd is idle
audit_settle() {
	local i b
	for ((i = 0; i < SETTLE_TIMEOUT * 10; i++)); do
		b=$(audit_status backlog)
		[[ -z $b || $b == 0 ]] && break
		sleep 0.1
	done
	settle "$AUDIT_DAEMON_PID" ${KAUDITD_PID:+"$KAUDITD_PID"}
}

# ---------------------------------------------------------------- busy control
BUSY_PID=
busy_start() {
	"$WORKLOAD" spin >/dev/null 2>&1 &
	BUSY_PID=$!
	sleep 0.2 # running, and placed on its own CPU by the scheduler
	pid_alive "$BUSY_PID"
}
busy_stop() {
	[[ -n $BUSY_PID ]] || return 0
	kill "$BUSY_PID" 2>/dev/null
	wait "$BUSY_PID" 2>/dev/null
	BUSY_PID=
}

# ---------------------------------------------------------------- workload filesystem
# ext4 without a journal (this VM's root) skips inodes deleted in the last
# 60 s (360 s while their inode-table block is dirty) when it allocates one,
# so a file storm there costs more the more storms ran in the last minutes:
# the same binary drifted by 30% within one run.sh, and a vigild with every
# hook off (nothing attached) measured x1.01-1.38. A fresh journaled ext4,
# the usual production setup, reuses inodes at once.
LOOPFS_IMG=
LOOPFS_DIR=
loopfs_make() {
	local why=
	if ((EUID != 0)); then
		why="not root"
	elif ! command -v mkfs.ext4 >/dev/null; then
		why="mkfs.ext4 not installed (e2fsprogs)"
	else
		LOOPFS_IMG=$(mktemp /var/tmp/vigil-bench-fs.XXXXXX) &&
			LOOPFS_DIR=$SCRATCH/fs && mkdir -p "$LOOPFS_DIR" &&
			truncate -s 4G "$LOOPFS_IMG" &&
			mkfs.ext4 -q -F -O has_journal "$LOOPFS_IMG" >/dev/null 2>&1 &&
			mount -o loop "$LOOPFS_IMG" "$LOOPFS_DIR" 2>/dev/null ||
			why="could not make or mount a loop ext4 in /var/tmp"
	fi
	if [[ -n $why ]]; then
		loopfs_remove
		log "workload filesystem: $why; using /tmp instead"
		WORKLOAD_DIR=/tmp
		return
	fi
	WORKLOAD_DIR=$LOOPFS_DIR
	log "workload filesystem: fresh journaled ext4 on a loop device at $WORKLOAD_DIR"
}
loopfs_remove() {
	if [[ -n $LOOPFS_DIR ]] && mountpoint -q "$LOOPFS_DIR"; then
		umount "$LOOPFS_DIR" || umount -l "$LOOPFS_DIR"
	fi
	[[ -n $LOOPFS_IMG ]] && rm -f -- "$LOOPFS_IMG"
	LOOPFS_IMG=
	LOOPFS_DIR=
}

# ---------------------------------------------------------------- cleanup
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $VIGILD_PID ]]; then vigild_stop; fi
	busy_stop
	if [[ -n $AUDITD_PID ]] || ((AUDIT_TOUCHED)); then
		audit_stop
		audit_restore
	fi
	loopfs_remove
	rm -rf -- "$SCRATCH"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- preflight
ensure_workload "$SCRATCH"
if [[ $WORKLOAD_DIR == loop ]]; then
	loopfs_make
elif [[ ! -d $WORKLOAD_DIR ]]; then
	die "WORKLOAD_DIR=$WORKLOAD_DIR is not a directory"
fi
check_quiet
audit_preflight
for c in $CONDITIONS; do
	case $c in
	baseline | busy) ACTIVE[$c]=1 ;;
	vigild | vigild_b)
		bin=$VIGILD
		[[ $c == vigild_b ]] && bin=$VIGILD_B
		if [[ ! -x $bin ]]; then
			SKIP[$c]="$bin not found (not built yet: run 'make')"
		elif ((EUID != 0)); then
			SKIP[$c]="vigild needs root"
		else
			ACTIVE[$c]=1
		fi
		;;
	auditd)
		if ((AUDIT_OK)); then ACTIVE[auditd]=1; else SKIP[auditd]=$AUDIT_WHY; fi
		;;
	esac
done
for c in $CONDITIONS; do
	[[ -n ${SKIP[$c]:-} ]] && log "$c column skipped: ${SKIP[$c]}"
done
audit_neutral

# ---------------------------------------------------------------- measurement
# run_one COND WORKLOAD DAEMON_PIDS...: run one workload, append "seconds ops_per_sec daemon_cpu_ms round"
run_one() {
	local cond=$1 w=$2 n out t0 t1 secs ops rc
	shift 2
	n=$(count_for "$w")
	t0=$(cpu_ticks "$@")
	out=$(timeout -k 5 "$WORKLOAD_TIMEOUT" "$WORKLOAD" "$w" --count "$n" --dir "$WORKLOAD_DIR" 2>"$SCRATCH/wl.err") || {
		rc=$?
		((rc == 124)) && log "  $cond/$w: workload killed after ${WORKLOAD_TIMEOUT}s (WORKLOAD_TIMEOUT)"
		log "  $cond/$w: workload failed (exit $rc): $(head -c 300 "$SCRATCH/wl.err") $out"
		return 1
	}
	secs=$(sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' <<<"$out")
	ops=$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$out")
	[[ -n $secs && -n $ops ]] || { log "  $cond/$w: unparsable output: $out"; return 1; }
	case $cond in
	vigild | vigild_b) ((VIGILD_STOPPED)) || settle "$@" ;;
	auditd) audit_settle ;;
	esac
	t1=$(cpu_ticks "$@")
	printf '%s %s %s %s\n' "$secs" "$ops" $(((t1 - t0) * 1000 / CLK_TCK)) "$ROUND" >>"$RES/$cond.$w"
	log "  $(printf '%-8s %-8s %8ss %10s ops/s' "$cond" "$w" "$secs" "$ops")"
}

START=$(now)
read -ra WL <<<"$WORKLOADS"
log "vigil bench: $RUNS rounds x {$CONDITIONS} x {$WORKLOADS} x $REPEAT; workload $WORKLOAD"
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
	# the order rotates every round, so that no condition always runs
	# right after another one's start-up or clean-up (a null vigild on
	# the journal-less root ext4 once measured x1.09 in second place and
	# x0.94 in first): each takes every place in turn
	read -ra order <<<"$CONDITIONS"
	rot=$(((ROUND - 1) % ${#order[@]}))
	order=("${order[@]:rot}" "${order[@]:0:rot}")
	log "round $ROUND/$RUNS: ${order[*]}"
	for c in "${order[@]}"; do
		[[ -n ${ACTIVE[$c]:-} ]] || continue
		sync
		pids=()
		case $c in
		vigild | vigild_b)
			# vigild_start runs $VIGILD with $VIGILD_ARGS
			if [[ $c == vigild_b ]]; then
				VIGILD=$VIGILD_B VIGILD_ARGS=$VIGILD_B_ARGS
			else
				VIGILD=$VIGILD_A VIGILD_ARGS=$VIGILD_A_ARGS
			fi
			if ! vigild_start /dev/null "$SCRATCH"; then
				SKIP[$c]="failed in round $ROUND: $VIGILD_WHY"
				unset "ACTIVE[$c]"
				log "$c column disabled: ${SKIP[$c]}"
				continue
			fi
			pids=("$VIGILD_PID")
			# steady state, not start-up: vigild hashes executables and
			# creates its store after "ready", and that I/O written back
			# during the first workload cost it up to 40%
			settle "$VIGILD_PID" || true
			sync
			((VIGILD_STOPPED)) && kill -STOP "$VIGILD_PID"
			;;
		auditd)
			if ! audit_start; then
				unset 'ACTIVE[auditd]'
				log "auditd column disabled: ${SKIP[auditd]}"
				continue
			fi
			pids=("$AUDIT_DAEMON_PID" ${KAUDITD_PID:+"$KAUDITD_PID"})
			audit_settle
			sync
			;;
		busy)
			if ! busy_start; then
				SKIP[busy]="workload spin exited at once in round $ROUND"
				unset 'ACTIVE[busy]'
				log "busy column disabled: ${SKIP[busy]}"
				continue
			fi
			;;
		esac
		for ((k = 0; k < REPEAT * ${#WL[@]}; k++)); do
			w=${WL[k % ${#WL[@]}]}
			run_one "$c" "$w" "${pids[@]}"
			if [[ $c == vigild* ]] && ! pid_alive "$VIGILD_PID"; then
				SKIP[$c]="$c died during round $ROUND ($w); last stderr: $(tail -n 5 "$VIGILD_LOG" | paste -sd ';' -)"
				unset "ACTIVE[$c]"
				log "$c column disabled: ${SKIP[$c]}"
				break
			fi
		done
		case $c in
		vigild | vigild_b)
			((VIGILD_STOPPED)) && kill -CONT "$VIGILD_PID"
			vigild_stop || log "warning: vigild did not stop cleanly in round $ROUND"
			;;
		auditd) audit_stop ;;
		busy) busy_stop ;;
		esac
	done
done
ELAPSED=$(awk -v a="$START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')

# ---------------------------------------------------------------- report
# median FILE COLUMN
median() {
	[[ -s $1 ]] || return 0
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.6g", v[(NR + 1) / 2]; else printf "%.6g", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
nruns() { [[ -s $1 ]] && wc -l <"$1" | tr -d ' ' || printf 0; }

# median of x[1..n] (sorts x in place), for the awk programs below
AWK_MED='function med(x, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
	return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
}'

# ratio_ci BASE_FILE COND_FILE: 95% bootstrap interval of median(cond) /
# median(base), as "lo–hi". Run-to-run spread on a VM is several percent,
# so a ratio means little without it: two runs of 8 rounds of the same
# build gave the file storm x1.04 and x1.16. Fixed seed: the same samples
# give the same interval.
ratio_ci() {
	[[ -s $1 && -s $2 ]] || return 0
	awk "$AWK_MED"'
	FNR == 1 { f++ }
	f == 1 { a[++na] = $1 } f == 2 { b[++nb] = $1 }
	END {
		srand(1); B = 2000
		for (k = 1; k <= B; k++) {
			for (i = 1; i <= na; i++) sa[i] = a[int(rand() * na) + 1]
			for (i = 1; i <= nb; i++) sb[i] = b[int(rand() * nb) + 1]
			m = med(sa, na); r[k] = m > 0 ? med(sb, nb) / m : 0
		}
		med(r, B)
		printf "%.2f–%.2f", r[int(B * 0.025) + 1], r[int(B * 0.975)]
	}' "$1" "$2"
}

# paired BASE_FILE COND_FILE: the median over rounds of the round's own
# ratio (mean cond / mean base, both measured in the same round, minutes
# apart at most) and its 95% bootstrap interval over rounds, as "r (lo–hi)". The
# exec storm's speed drifts by several percent over an hour on this VM
# (its loader's cpuid traps to the hypervisor); a ratio within a round
# cancels that drift, a ratio of two medians does not.
paired() {
	[[ -s $1 && -s $2 ]] || return 0
	awk "$AWK_MED"'
	FNR == 1 { f++ }
	NF < 4 { next }
	f == 1 { bs[$4] += $1; bn[$4]++ } f == 2 { cs[$4] += $1; cn[$4]++ }
	END {
		for (rd in cs) if ((rd in bs) && bs[rd] > 0) q[++n] = (cs[rd] / cn[rd]) / (bs[rd] / bn[rd])
		if (!n) exit
		for (i = 1; i <= n; i++) c[i] = q[i]
		m = med(c, n)
		srand(1); B = 2000
		for (k = 1; k <= B; k++) {
			for (i = 1; i <= n; i++) s[i] = q[int(rand() * n) + 1]
			r[k] = med(s, n)
		}
		med(r, B)
		printf "%.3f (%.3f–%.3f)", m, r[int(B * 0.025) + 1], r[int(B * 0.975)]
	}' "$1" "$2"
}

table() {
	local w c n mb m cell hdr sep cpu
	hdr="| workload | ops/run | baseline s (ops/s) |"
	sep="|---|---:|---:|"
	for c in $CONDITIONS; do
		[[ $c == baseline ]] && continue
		hdr+=" $c s | $c ×base | $c ×base paired | $c CPU ms |"
		sep+="---:|---:|---:|---:|"
	done
	printf '%s\n%s\n' "$hdr" "$sep"
	for w in $WORKLOADS; do
		mb=$(median "$RES/baseline.$w" 1)
		n=$(nruns "$RES/baseline.$w")
		if [[ -n $mb ]]; then
			cell=$(awk -v s="$mb" -v o="$(median "$RES/baseline.$w" 2)" 'BEGIN { printf "%.3f (%.0f/s)", s, o }')
			((n < RUNS * REPEAT)) && cell+=" n=$n"
		else
			cell="failed"
		fi
		printf '| %s | %s | %s |' "$w" "$(count_for "$w")" "$cell"
		for c in $CONDITIONS; do
			[[ $c == baseline ]] && continue
			m=$(median "$RES/$c.$w" 1)
			n=$(nruns "$RES/$c.$w")
			if [[ -z $m ]]; then
				printf ' — | — | — | — |'
				continue
			fi
			cell=$(awk -v s="$m" 'BEGIN { printf "%.3f", s }')
			((n < RUNS * REPEAT)) && cell+=" n=$n"
			if [[ -n $mb ]]; then
				cpu=$(median "$RES/$c.$w" 3)
				[[ $c == busy ]] && cpu="—"
				printf ' %s | %s (%s) | %s | %s |' "$cell" "$(awk -v a="$m" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')" \
					"$(ratio_ci "$RES/baseline.$w" "$RES/$c.$w")" "$(paired "$RES/baseline.$w" "$RES/$c.$w")" "$cpu"
			else
				printf ' %s | — | — | %s |' "$cell" "$(median "$RES/$c.$w" 3)"
			fi
		done
		printf '\n'
	done
	printf '\n'
	printf 'Median of %s runs per cell (%s rounds of %s), wall seconds for one workload run; ×base = median / baseline median (1.00 = no overhead), in brackets its 95%% bootstrap interval (2,000 resamples of the runs). ×base paired = median over rounds of the ratio within a round (both conditions run minutes apart at most, which cancels slow drift of the machine), with its 95%% bootstrap interval over rounds.\n' "$((RUNS * REPEAT))" "$RUNS" "$REPEAT"
	printf 'CPU ms = CPU time used by the sensor itself (vigild; auditd + kauditd) from the start of a run until it was idle again.\n'
	[[ " $CONDITIONS " == *" busy "* ]] && printf 'busy = no sensor, one other CPU kept busy by a loop without system calls: the floor for any consumer that runs while the workload runs (1.00 where CPUs do not slow each other).\n'
	((VIGILD_STOPPED)) && printf 'VIGILD_STOPPED=1: vigild was stopped (SIGSTOP) once ready, so its column is the kernel side alone (eBPF programs and tracepoint dispatch, no consumer).\n'
	if [[ " $CONDITIONS " == *" vigild_b "* ]]; then
		printf 'vigild = %s%s; vigild_b = %s%s.\n' "$VIGILD_A" "${VIGILD_A_ARGS:+ $VIGILD_A_ARGS}" "$VIGILD_B" "${VIGILD_B_ARGS:+ $VIGILD_B_ARGS}"
	fi
	for c in $CONDITIONS; do
		[[ -n ${SKIP[$c]:-} ]] && printf '\n**%s column skipped:** %s\n' "$c" "${SKIP[$c]}"
	done
	printf '\nWall time of the whole benchmark: %s s.\n' "$ELAPSED"
}

TABLE=$(table)
printf '%s\n' "$TABLE"

if ((RECORD)); then
	[[ -s $BENCH_DIR/RESULTS.md ]] || printf '# vigil benchmark results\n' >"$BENCH_DIR/RESULTS.md"
	{
		printf '\n## %s — bench/run.sh\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		printf -- '- command: `%s`\n' "$COMMAND"
		machine_info
		printf -- '- workloads: %s\n' "$WORKLOADS"
		if [[ -n $LOOPFS_IMG ]]; then
			printf -- '- workload directory: a fresh journaled ext4 (4 GiB loop image in /var/tmp)\n'
		else
			printf -- '- workload directory: %s (%s)\n' "$WORKLOAD_DIR" "$(stat -f -c %T "$WORKLOAD_DIR" 2>/dev/null || printf '?')"
		fi
		((AUDIT_OK)) && printf -- '- auditd: %s, rule `auditctl %s`, backlog %s\n' \
			"$(dpkg-query -W -f '${Version}' auditd 2>/dev/null || printf '?')" "${AUDIT_RULE[*]}" "$AUDIT_BACKLOG"
		printf '\n%s\n' "$TABLE"
	} >>"$BENCH_DIR/RESULTS.md"
	log "appended to $BENCH_DIR/RESULTS.md"
fi
