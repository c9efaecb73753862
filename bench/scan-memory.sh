#!/usr/bin/env bash
# Measures the scan function's peak memory while it scans one large object
# (default 1 GiB) and writes the result to bench/results/scan-memory.md.
#
# Usage: bench/scan-memory.sh [size-in-MiB]
#
# It uses the local stack's MinIO (started if needed), and starts beside it a
# clamd whose limits admit the object (127.0.0.1:3320) and the release build of
# the functions under a second `cargo lambda watch` (127.0.0.1:9010). Both are
# stopped by PID when the script ends. Peak memory is the scan process's VmHWM
# from /proc, read after the scan.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size_mib=${1:-1024}
clamd_port=3320
invoke_port=9010
results=$repo_root/bench/results/scan-memory.md

cd "$repo_root"
scripts/stack.sh up >/dev/null
# shellcheck disable=SC1090
. "$(scripts/stack.sh env)"
work=$FILESTORE_STATE_DIR/bench
mkdir -p "$work/tmp"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

limit_mib=$((size_mib + 64))
cat >"$work/clamd.conf" <<CONF
Foreground yes
TCPSocket $clamd_port
TCPAddr 127.0.0.1
DatabaseDirectory $FILESTORE_STATE_DIR/clamd/db
TemporaryDirectory $work/tmp
LogFile $work/clamd.log
StreamMaxLength ${limit_mib}M
MaxFileSize ${limit_mib}M
# clamd counts data extracted from embedded formats towards MaxScanSize, so it gets room above
# the object's own size; 4000M is ClamAV's largest accepted value.
MaxScanSize 4000M
AlertExceedsMax yes
CONF
/usr/sbin/clamd -c "$work/clamd.conf" &
pids+=($!)

cargo build -q --release -p scan -p notify -p filestore-bench
limit_bytes=$((limit_mib * 1024 * 1024))
# Webhooks are left out: the benchmark measures the scan, not the delivery.
setsid env -u NOTIFY_WEBHOOK_URLS cargo lambda watch -r -A 127.0.0.1 -P "$invoke_port" --ignore-changes \
    --env-var "SCAN_CLAMD_ADDR=127.0.0.1:$clamd_port" \
    --env-var "SCAN_MAX_BYTES=$limit_bytes,CLAMD_STREAM_MAX_LENGTH=$limit_bytes" \
    --env-var "CLAMD_MAX_FILE_SIZE=$limit_bytes,CLAMD_MAX_SCAN_SIZE=$((4000 * 1024 * 1024))" \
    --env-var "NOTIFY_URL=http://127.0.0.1:$invoke_port/lambda-url/notify/verdicts" \
    >"$work/functions.log" 2>&1 &
watcher=$!
pids+=("$watcher")

ready=""
for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$clamd_port") 2>/dev/null \
        && curl -s -o /dev/null "http://127.0.0.1:$invoke_port/"; then
        ready=1
        break
    fi
    sleep 1
done
if [[ -z $ready ]]; then
    echo "scan-memory: clamd or the functions did not start; see $work/clamd.log and $work/functions.log" >&2
    tail -5 "$work/functions.log" >&2
    exit 1
fi

# Starts the scan and notify processes with probes, so the scan's PID can be found before the
# run and neither start-up counts in the timing.
curl -sf -o /dev/null -X POST "http://127.0.0.1:$invoke_port/2015-03-31/functions/scan/invocations" -d '{}'
curl -s -o /dev/null "http://127.0.0.1:$invoke_port/lambda-url/notify/healthz"
# cargo lambda starts each function in a session of its own, so the process is found by its
# executable: only this benchmark runs the release build of scan.
scan_pid=""
for proc in /proc/[0-9]*; do
    if [[ $(readlink -f "$proc/exe" 2>/dev/null) == "$repo_root/target/release/scan" ]]; then
        scan_pid=${proc#/proc/}
    fi
done
[[ -n $scan_pid ]] || { echo "scan-memory: no running target/release/scan process found" >&2; exit 1; }
rss_before=$(awk '/VmHWM/ {print $2}' "/proc/$scan_pid/status")

result=$(target/release/scan-memory filestore-bench "$size_mib" "http://127.0.0.1:$invoke_port")
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$scan_pid/status")
echo "$result"
echo "scan process peak RSS: $((peak_kib / 1024)) MiB (after start-up: $((rss_before / 1024)) MiB)"

{
    echo "# Scan function memory"
    echo
    echo "Run on $(date -u +%Y-%m-%d) with \`bench/scan-memory.sh $size_mib\` on $(nproc) cores:"
    echo "release build under \`cargo lambda watch\`, MinIO and clamd on 127.0.0.1, the project's"
    echo "test signature database. Peak RSS is VmHWM of the scan process. The object is"
    echo "pseudo-random bytes named .txt: clamd reads all of it, then the content check rejects it"
    echo "as not text, so the expected verdict is spoofed. Scan time includes clamd, which bounds it."
    echo
    echo "| object | verdict | scan time (s) | MiB/s | peak RSS (MiB) | RSS after start-up (MiB) |"
    echo "|---|---|---|---|---|---|"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("| %s MiB | %s | %.1f | %.0f | %s | %s |" % (r["size_mib"], r["verdict"], r["invoke_secs"], r["mib_per_sec"], sys.argv[2], sys.argv[3]))
' "$result" "$((peak_kib / 1024))" "$((rss_before / 1024))"
} >"$results"
echo "written to $results"
