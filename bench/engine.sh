#!/usr/bin/env bash
# The detection engine's throughput on one core: runs build/bench/engine_bench
# RUNS times and prints the median of each figure as a Markdown table.
#
#   bench/engine.sh [--record]
#
# Environment: RUNS=5 EVENTS=1000000 (events per run; 1M needs ~1.2 GB RAM)
#   INPUT=FILE.jsonl  a recorded stream (vigild --events-out) instead of the
#                     generated one; EVENTS is then ignored
set -u -o pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
parse_record_args "$@"
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-1000000}
require_positive RUNS EVENTS
[[ -z ${INPUT:-} || -r $INPUT ]] || die "INPUT: cannot read '$INPUT'"
EB=$(dirname "$VIGILD")/bench/engine_bench
[[ -x $EB ]] || die "$EB is not built (run 'make')"
check_quiet
OUT=$(mktemp /tmp/vigil-engine.XXXXXX)
trap 'rm -f "$OUT"' EXIT
for ((i = 1; i <= RUNS; i++)); do
	log "run $i/$RUNS"
	if [[ -n ${INPUT:-} ]]; then
		"$EB" --input "$INPUT" --shipped "$ROOT/rules" 2>/dev/null | tail -n 1 >>"$OUT" || die "engine_bench failed"
	else
		"$EB" --events "$EVENTS" --shipped "$ROOT/rules" 2>/dev/null | tail -n 1 >>"$OUT" || die "engine_bench failed"
	fi
done
TABLE=$(python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = lambda f: statistics.median(f(r) for r in runs)
rows = [
    ("flatten JSON -> fields", "", med(lambda r: r["flatten_eps"]), med(lambda r: r["flatten_ns"])),
    ("match, shipped rules", runs[0]["shipped"]["rules"], med(lambda r: r["shipped"]["match_eps"]), med(lambda r: r["shipped"]["match_ns"])),
    ("flatten + match, shipped rules", runs[0]["shipped"]["rules"], med(lambda r: r["shipped"]["eps"]), 1e9 / med(lambda r: r["shipped"]["eps"])),
    ("match, generated rules", runs[0]["generated"]["rules"], med(lambda r: r["generated"]["match_eps"]), med(lambda r: r["generated"]["match_ns"])),
    ("flatten + match, generated rules", runs[0]["generated"]["rules"], med(lambda r: r["generated"]["eps"]), 1e9 / med(lambda r: r["generated"]["eps"])),
    ("full engine incl. flatten, generated", runs[0]["generated"]["rules"], med(lambda r: r["generated"]["engine_eps"]), 1e9 / med(lambda r: r["generated"]["engine_eps"])),
    ("full engine as in vigild (flat built by the encoder)", runs[0]["generated"]["rules"], med(lambda r: r["generated"]["engine_only_eps"]), 1e9 / med(lambda r: r["generated"]["engine_only_eps"])),
    ("engine_process alone, shipped rules (flat made untimed)", runs[0]["shipped"]["rules"], 1e9 / med(lambda r: r["shipped"]["engine_alone_ns"]), med(lambda r: r["shipped"]["engine_alone_ns"])),
    ("engine_process alone, generated rules (flat made untimed)", runs[0]["generated"]["rules"], 1e9 / med(lambda r: r["generated"]["engine_alone_ns"]), med(lambda r: r["generated"]["engine_alone_ns"])),
]
print("| stage (one core) | rules | events/s | ns/event |")
print("|---|---:|---:|---:|")
for name, n, eps, ns in rows:
    print(f"| {name} | {n} | {eps:,.0f} | {ns:,.0f} |")
g = runs[0]["generated"]
print()
print(f"rule load: generated {g['rules']} rules parse {med(lambda r: r['generated']['parse_ms']):.1f} ms, "
      f"compile {med(lambda r: r['generated']['compile_ms']):.0f} ms, {med(lambda r: r['generated']['rss_mb']):.1f} MiB; "
      f"peak RSS {med(lambda r: r['peak_rss_mb']):.0f} MiB (holds the {runs[0]['events']:,} events in memory)")
PY
)
printf '%s\n' "$TABLE"
if ((RECORD)); then
	{
		printf '\n## Detection engine throughput (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
		if [[ -n ${INPUT:-} ]]; then
			printf -- '- command: `RUNS=%s INPUT=%s bench/engine.sh --record` (median of %s runs, thread CPU time)\n' "$RUNS" "$INPUT" "$RUNS"
			printf -- '- stream: %s events recorded by `vigild --events-out` during `workload mixed`\n' "$(wc -l <"$INPUT")"
		else
			printf -- '- command: `RUNS=%s EVENTS=%s bench/engine.sh --record` (median of %s runs, thread CPU time)\n' "$RUNS" "$EVENTS" "$RUNS"
			printf -- '- stream: %s generated events shaped like vigild'"'"'s\n' "$EVENTS"
		fi
		machine_info
		printf '\n%s\n' "$TABLE"
	} >>"$ROOT/bench/RESULTS.md"
	log "appended to bench/RESULTS.md"
fi
