#!/usr/bin/env bash
# Measures what Filestore adds to clamd, on one seeded corpus and two signature databases, and
# writes bench/results/overhead.md, overhead.json and overhead.png.
#
# Usage: bench/overhead.sh            the full run (about 40 minutes on 2 cores)
#        BENCH_QUICK=1 bench/overhead.sh   a tenth of the corpus, results in .stack/bench/overhead/results-quick
#
# The script starts its own services on ports the local stack (scripts/stack.sh) does not use,
# so both can run on one machine: clamd 127.0.0.1:3330, MinIO :9200 (console :9201), OpenBao
# :8210 (cluster :8211), the functions' release binaries in plain HTTP mode on :9210-9213, cold
# start instances on :9215, and the benchmark's webhook receiver on :9290. MinIO's and OpenBao's
# data are made anew on each run under .stack/bench/overhead/ (git-ignored); the corpus and the large
# signature database are kept there and reused. Every process it starts is stopped by PID when
# it exits.
#
# Environment: BENCH_QUICK=1, BENCH_SEED (corpus and database seed), BENCH_MODES (subset of
# raw,clamdscan,clamscan,scan,e2e,cold), BENCH_DBS (subset of "small large"), BENCH_SKIP_BUILD=1,
# BENCH_ON_DISK=1 (data on the disk rather than /dev/shm).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
state=$repo_root/.stack/bench/overhead
bin_dir=$repo_root/target/release
minio_bin=$repo_root/.stack/bin/minio
host=127.0.0.1
clamd_port=3330
minio_port=9200
minio_console_port=9201
bao_port=8210
bao_cluster_port=8211
scan_port=9210
scan_alone_port=9211
notify_port=9212
presign_port=9213
cold_port=9215
receiver_port=9290

quick=${BENCH_QUICK:-}
if [[ $quick == 1 ]]; then
    results_dir=$state/results-quick
    min_free_gib=4
else
    results_dir=$repo_root/bench/results
    min_free_gib=8
fi
log_dir=$state/logs
results_jsonl=$state/results.jsonl
started_at=$(date +%s)

log() {
    printf 'overhead: %s\n' "$*" >&2
}

die() {
    printf 'overhead: error: %s\n' "$*" >&2
    exit 1
}

# --- processes ---------------------------------------------------------------------------------

declare -A pid_of=()

# Starts a service in the background with its output in the log folder and records its PID.
launch() {
    local name=$1
    shift
    "$@" </dev/null >>"$log_dir/$name.log" 2>&1 &
    pid_of[$name]=$!
}

# Stops one service by its recorded PID: SIGTERM, then SIGKILL after 20 s.
stop() {
    local name=$1 pid=${pid_of[$1]:-}
    [[ -n $pid ]] || return 0
    unset "pid_of[$name]"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local name
    for name in presign scan scan_alone notify minio clamd openbao; do
        stop "$name"
    done
    # Memory is not kept for the next run: the corpus is made again in seconds.
    if [[ ${data:-} == /dev/shm/* ]]; then
        rm -rf "$data"
    fi
}
trap cleanup EXIT

port_open() {
    (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

# Waits until CHECK (a command) succeeds, at most TIMEOUT seconds, while the service lives.
wait_for() {
    local name=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
            tail -n 20 "$log_dir/$name.log" >&2 || true
            die "$name exited during start-up; see $log_dir/$name.log"
        fi
        ((SECONDS < deadline)) || die "$name did not become ready within ${timeout}s; see $log_dir/$name.log"
        sleep 0.1
    done
}

# --- preparation -------------------------------------------------------------------------------

for port in $clamd_port $minio_port $minio_console_port $bao_port $bao_cluster_port \
    $scan_port $scan_alone_port $notify_port $presign_port $cold_port $receiver_port; do
    if port_open "$port"; then
        die "port $host:$port is in use by a process this script did not start; stop it first"
    fi
done
[[ -x $minio_bin ]] || die "$minio_bin not found; run scripts/install.sh"
for tool in clamd clamscan clamdscan bao curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/install.sh"
done

free_gib() {
    df --output=avail -B1G "$1" | tail -1 | tr -d ' '
}

# The corpus, MinIO's data and clamd's temporary files (up to one 256 MiB stream per concurrent
# scan) need several GiB. They go to /dev/shm when it has room, so that the figures show what
# Filestore adds rather than this machine's disk: on the disk here MinIO spent about three times
# the CPU per PutObject. BENCH_ON_DISK=1 puts them on the disk instead. The report names which.
mkdir -p "$state" "$log_dir"
if [[ ${BENCH_ON_DISK:-} != 1 && -d /dev/shm ]] && (($(free_gib /dev/shm) >= min_free_gib + 2)); then
    data=/dev/shm/filestore-bench
    export BENCH_STORAGE="tmpfs (/dev/shm)"
    log "the corpus, MinIO's data and clamd's temporary files go to $data"
elif (($(free_gib "$state") >= min_free_gib)); then
    data=$state
    export BENCH_STORAGE="disk ($state)"
else
    die "only $(free_gib "$state") GiB free under $state and too little in /dev/shm; the run needs ${min_free_gib} GiB"
fi
if [[ $quick == 1 ]]; then
    corpus=$data/corpus-quick
else
    corpus=$data/corpus
fi
mkdir -p "$data"

if [[ ${BENCH_SKIP_BUILD:-} != 1 ]]; then
    log "building the functions and the harness (release)"
    cargo build -q --release -p scan -p notify -p presign -p upload
    cargo build -q --release -p filestore-bench --bin overhead
    cargo build -q --release -p filestore-e2e --bin stack-setup
fi

venv=$repo_root/.stack/bench/venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    log "installing matplotlib into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q matplotlib
fi

# Secrets of this run only; nothing outside the benchmark uses them.
random_hex() {
    od -An -v -N "$1" -tx1 /dev/urandom | tr -d ' \n'
}
export MINIO_ROOT_USER=bench$(random_hex 6)
export MINIO_ROOT_PASSWORD=$(random_hex 24)
minio_kms_key="bench-at-rest:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"

# Settings every function and the harness read.
unset AWS_LAMBDA_RUNTIME_API FN_LISTENER FN_FORMAT AWS_PROFILE VAULT_TOKEN
export AWS_ACCESS_KEY_ID=$MINIO_ROOT_USER
export AWS_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://$host:$minio_port
export AWS_EC2_METADATA_DISABLED=true
export S3_FORCE_PATH_STYLE=true
export INCOMING_BUCKET=incoming
export STATUS_BUCKET=filestore-status
export QUARANTINE_BUCKET=filestore-quarantine
export STORE_BUCKET=filestore-files
export MINIO_WEBHOOK_ARN=arn:minio:sqs::FILESTORE:webhook
export SCAN_CLAMD_ADDR=$host:$clamd_port
# The scan limit must admit the 256 MiB objects; clamd gets the same limits below. A 256 MiB
# object with the large database takes longer than the default 60 s clamd step limit at four
# concurrent scans on two cores.
export SCAN_MAX_BYTES=$((400 * 1024 * 1024))
export CLAMD_STREAM_MAX_LENGTH=$((400 * 1024 * 1024))
export CLAMD_MAX_FILE_SIZE=$((400 * 1024 * 1024))
export CLAMD_MAX_SCAN_SIZE=$((4000 * 1024 * 1024))
export SCAN_CLAMD_TIMEOUT_SECS=600
export PRESIGN_MAX_BYTES=$((1024 * 1024 * 1024))
# Form uploads for every size, so each object reaches MinIO in one request.
export PRESIGN_MULTIPART_THRESHOLD=$((1024 * 1024 * 1024))
export PRESIGN_JWT_HS256_SECRET=$(random_hex 32)
export SCAN_WEBHOOK_TOKEN=$(random_hex 24)
export NOTIFY_TOKEN=$(random_hex 24)
export NOTIFY_WEBHOOK_URLS=http://$host:$receiver_port/webhook
export NOTIFY_WEBHOOK_SECRET=$(random_hex 32)
export VAULT_ADDR=http://$host:$bao_port
export VAULT_ROLE_ID=$(random_hex 16)
export VAULT_SECRET_ID=$(random_hex 24)
export VAULT_TRANSIT_KEY=filestore

# Settings of the harness.
export BENCH_CORPUS=$corpus
export BENCH_RESULTS=$results_jsonl
export BENCH_RECEIVER_ADDR=$host:$receiver_port
export BENCH_DIRECT_BUCKET=bench-direct
export BENCH_SCAN_ALONE_URL=http://$host:$scan_alone_port
export BENCH_PRESIGN_URL=http://$host:$presign_port
export BENCH_BIN_DIR=$bin_dir
export BENCH_COLD_PORT=$cold_port
export BENCH_LOG_DIR=$log_dir
export BENCH_STARTED=$started_at
BENCH_COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
export BENCH_COMMIT
export BENCH_CLAMD_CONF=$state/clamd.conf
export BENCH_CLAMD_ADDR=$host:$clamd_port
overhead=$bin_dir/overhead

log "corpus: $corpus"
"$overhead" corpus

# The small database is exactly the project's test signatures: no official databases are linked
# in, even where /var/lib/clamav has them.
mkdir -p "$state/no-system-db"
CLAMAV_SYSTEM_DB_DIR=$state/no-system-db scripts/clamd-signatures.sh "$state/db-small"
small_signatures=$(cat "$state"/db-small/*.hdb "$state"/db-small/*.ndb | grep -c .)
large_stamp="seed=${BENCH_SEED:-default} $(sha256sum bench/src/overhead/signatures.rs bench/src/overhead/rng.rs | cut -c1-16 | tr '\n' ' ')"
if [[ ! -f $state/db-large/.stamp || $(<"$state/db-large/.stamp") != "$large_stamp" ]]; then
    log "writing the large signature database"
    rm -rf "$state/db-large"
    "$overhead" signatures "$state/db-large" >/dev/null
    printf '%s' "$large_stamp" >"$state/db-large/.stamp"
fi
cp "$state/db-small/filestore.hdb" "$state/db-small/filestore.ndb" "$state/db-large/"
large_signatures=$(cat "$state"/db-large/*.hdb "$state"/db-large/*.hsb "$state"/db-large/*.ndb | grep -c .)
rm -f "$results_jsonl"

# --- OpenBao -----------------------------------------------------------------------------------

bao_bin=$(pyenv which bao 2>/dev/null || command -v bao)
rm -rf "$state/openbao"
mkdir -p "$state/openbao/data"
cat >"$state/openbao/openbao.hcl" <<EOF
storage "raft" {
  path    = "$state/openbao/data"
  node_id = "bench"
}
listener "tcp" {
  address         = "$host:$bao_port"
  cluster_address = "$host:$bao_cluster_port"
  tls_disable     = true
}
api_addr     = "http://$host:$bao_port"
cluster_addr = "http://$host:$bao_cluster_port"
ui           = false
EOF
log "starting OpenBao on $host:$bao_port"
launch openbao "$bao_bin" server -config="$state/openbao/openbao.hcl"
bao_listening() { [[ $(http_status "$VAULT_ADDR/v1/sys/health") != 000 ]]; }
bao_ready() { [[ $(http_status "$VAULT_ADDR/v1/sys/health") == 200 ]]; }
wait_for openbao 30 bao_listening
(umask 077 && BAO_ADDR=$VAULT_ADDR "$bao_bin" operator init -key-shares=1 -key-threshold=1 \
    -format=json >"$state/openbao/init.json")
json_field() {
    python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))[sys.argv[2]]
print(value[int(sys.argv[3])] if len(sys.argv) > 3 else value)' "$@"
}
BAO_ADDR=$VAULT_ADDR "$bao_bin" operator unseal \
    "$(json_field "$state/openbao/init.json" unseal_keys_b64 0)" >/dev/null
wait_for openbao 30 bao_ready
bao_root() {
    BAO_ADDR=$VAULT_ADDR BAO_TOKEN=$(json_field "$state/openbao/init.json" root_token) "$bao_bin" "$@"
}
bao_root secrets enable transit >/dev/null
bao_root write -f transit/keys/filestore type=aes256-gcm96 >/dev/null
bao_root auth enable approle >/dev/null
bao_root policy write filestore-functions - >/dev/null <<'EOF'
path "transit/datakey/plaintext/filestore" { capabilities = ["update"] }
path "transit/decrypt/filestore" { capabilities = ["update"] }
path "transit/rewrap/filestore" { capabilities = ["update"] }
path "transit/keys/filestore" { capabilities = ["read"] }
EOF
bao_root write auth/approle/role/filestore token_policies=filestore-functions \
    token_ttl=4h token_max_ttl=8h secret_id_ttl=0 >/dev/null
bao_root write auth/approle/role/filestore/role-id role_id="$VAULT_ROLE_ID" >/dev/null
bao_root write auth/approle/role/filestore/custom-secret-id secret_id="$VAULT_SECRET_ID" >/dev/null

# --- clamd -------------------------------------------------------------------------------------

clamd_ready() {
    local reply
    reply=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/$host/$clamd_port" || exit 1
        printf 'zPING\0' >&3
        IFS= read -r -d '' -t 5 answer <&3
        printf '%s' "$answer"
    ) || true
    [[ $reply == PONG ]]
}

# Starts clamd with one database and exports the database's facts for the harness.
start_clamd() {
    local db=$1
    mkdir -p "$data/tmp"
    # Limits as in scripts/stack.sh, raised to admit the 256 MiB objects. DisableCache keeps
    # clamd from answering the second pass over the same bytes from its cache.
    cat >"$BENCH_CLAMD_CONF" <<EOF
Foreground yes
TCPSocket $clamd_port
TCPAddr $host
DatabaseDirectory $state/db-$db
TemporaryDirectory $data/tmp
LogFile $log_dir/clamd-$db.log
LogTime yes
StreamMaxLength 400M
MaxFileSize 400M
MaxScanSize 4000M
MaxScanTime 0
MaxRecursion 16
MaxFiles 10000
AlertExceedsMax yes
AlertEncrypted yes
AlertBrokenExecutables no
MaxThreads 4
ReadTimeout 600
CommandReadTimeout 30
DisableCache yes
EOF
    log "starting clamd with the $db database"
    local started=$EPOCHREALTIME
    launch clamd /usr/sbin/clamd -c "$BENCH_CLAMD_CONF"
    wait_for clamd 600 clamd_ready
    BENCH_CLAMD_LOAD_SECS=$(python3 -c "print(round($EPOCHREALTIME - $started, 2))")
    export BENCH_CLAMD_LOAD_SECS BENCH_DB=$db BENCH_DB_DIR=$state/db-$db
    if [[ $db == small ]]; then
        export BENCH_SIGNATURES=$small_signatures
        export BENCH_DB_DESCRIPTION="the project's test signatures (scripts/clamd-signatures.sh): EICAR by MD5 and by body pattern"
    else
        export BENCH_SIGNATURES=$large_signatures
        export BENCH_DB_DESCRIPTION="generated by bench/src/overhead/signatures.rs: 900,000 MD5 and 100,000 SHA-256 hashes, 100,000 body signatures, plus the test signatures"
    fi
    log "clamd ready after ${BENCH_CLAMD_LOAD_SECS}s"
}

# --- functions and MinIO -----------------------------------------------------------------------

start_function() {
    local name=$1 binary=$2 port=$3
    shift 3
    launch "$name" env PORT="$port" BIND_ADDR=$host "$@" "$bin_dir/$binary"
    healthy() { [[ $(http_status "http://$host:$port/healthz") == 200 ]]; }
    wait_for "$name" 30 healthy
}

# Starts MinIO with its webhook target pointing at the scan function. "queued" adds the queue
# folder that scripts/stack.sh configures; "direct" leaves it out, so MinIO sends each event at
# once.
start_minio() {
    local mode=$1
    local queue=()
    if [[ $mode == queued ]]; then
        mkdir -p "$data/minio/events"
        queue=(MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_FILESTORE="$data/minio/events"
            MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_FILESTORE=100000)
    fi
    log "starting MinIO ($mode webhook delivery) on $host:$minio_port"
    launch minio env MINIO_BROWSER=off MINIO_KMS_SECRET_KEY="$minio_kms_key" \
        MINIO_PROMETHEUS_AUTH_TYPE=public \
        MINIO_NOTIFY_WEBHOOK_ENABLE_FILESTORE=on \
        MINIO_NOTIFY_WEBHOOK_ENDPOINT_FILESTORE="http://$host:$scan_port/webhook" \
        MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_FILESTORE="$SCAN_WEBHOOK_TOKEN" \
        "${queue[@]}" \
        "$minio_bin" server "$data/minio/data" \
        --address "$host:$minio_port" --console-address "$host:$minio_console_port"
    minio_ready() { [[ $(http_status "http://$host:$minio_port/minio/health/ready") == 200 ]]; }
    wait_for minio 60 minio_ready
    # Creates the buckets on the first start. On a restart it sets the bucket notification
    # again, because MinIO restarted with the queue folder added or removed sent no events for
    # the configuration it had stored.
    "$bin_dir/stack-setup" >>"$log_dir/stack-setup.log"
}

pids_env() {
    local pairs=() name
    for name in clamd minio openbao scan scan_alone notify presign; do
        if [[ -n ${pid_of[$name]:-} ]]; then
            pairs+=("${name/openbao/bao}=${pid_of[$name]}")
        fi
    done
    local IFS=,
    export BENCH_PIDS="${pairs[*]}"
}

dbs=${BENCH_DBS:-small large}
first_db=${dbs%% *}
start_clamd "$first_db"
log "starting the functions"
start_function notify notify $notify_port
start_function scan scan $scan_port NOTIFY_URL="http://$host:$notify_port/verdicts"
start_function scan_alone scan $scan_alone_port NOTIFY_URL="http://$host:$receiver_port/verdicts"
start_function presign presign $presign_port
rm -rf "$data/minio"
mkdir -p "$data/minio/data"
start_minio direct

minio_mode=direct
for db in $dbs; do
    if [[ $db != "$first_db" ]]; then
        stop clamd
        start_clamd "$db"
    fi
    # The queued sample runs next to the direct runs of the same database, with as few MinIO
    # restarts as the order allows.
    if [[ $minio_mode == queued ]]; then
        pids_env
        log "[$db] end to end through MinIO's queue folder"
        "$overhead" e2e-queued
        stop minio
        start_minio direct
        minio_mode=direct
    fi
    pids_env
    log "[$db] measuring"
    "$overhead" measure
    if [[ $db == "$first_db" ]]; then
        stop minio
        start_minio queued
        minio_mode=queued
        pids_env
        log "[$db] end to end through MinIO's queue folder"
        "$overhead" e2e-queued
    fi
done
if [[ $minio_mode == queued ]]; then
    stop minio
    start_minio direct
fi

pids_env
log "presign request rate"
"$overhead" presign-load

"$overhead" run-info
mkdir -p "$results_dir"
"$overhead" report "$results_dir/overhead.md" "$results_dir/overhead.json"
"$venv/bin/python" bench/overhead_chart.py "$results_dir/overhead.json" "$results_dir/overhead.png"
log "results: $results_dir/overhead.md, overhead.json, overhead.png ($(( ($(date +%s) - started_at) / 60 )) minutes)"
