#!/usr/bin/env bash
# Start, stop and inspect the local Filestore stack.
#
# Usage: scripts/stack.sh up|down [--purge]|status|env
#
#   up      Start clamd, OpenBao, the functions (cargo lambda watch) and MinIO,
#           in that order, wait until each is ready, then create the buckets
#           and notification configuration. A service that is already running
#           from its pid file and responding is left alone. When a service
#           fails to start, the ones started before it keep running; run
#           `down` to stop them.
#   down    Stop the services in reverse order by the PIDs in their pid files.
#           --purge also deletes MinIO data, logs and the generated secrets.
#   status  Print one line per service: running or stopped, and its address.
#   env     Write the environment file (generating secrets on first use) and
#           print its path. Source it to reach the stack:
#           . "$(scripts/stack.sh env)"
#
# All state lives in FILESTORE_STATE_DIR (default <repo>/.stack). Every
# service binds 127.0.0.1 only.
#
# Environment switches:
#   FILESTORE_SKIP_FUNCTIONS=1      skip building and starting the functions
#   FILESTORE_FUNCTIONS_NO_RELOAD=1 start cargo lambda watch with --ignore-changes,
#                                   so source edits do not restart the functions
#   FILESTORE_SKIP_SETUP=1          skip bucket and notification set-up
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=${FILESTORE_STATE_DIR:-$repo_root/.stack}
mkdir -p "$state_dir"
state_dir=$(cd "$state_dir" && pwd)

run_dir=$state_dir/run
log_dir=$state_dir/logs
secrets_file=$state_dir/secrets.env
env_file=$state_dir/env
clamd_dir=$state_dir/clamd
minio_dir=$state_dir/minio
bao_dir=$state_dir/openbao
minio_bin=$state_dir/bin/minio

host=127.0.0.1
clamd_port=3310
bao_port=8200
bao_cluster_port=8201
functions_port=9000
minio_port=9100
minio_console_port=9101

# clamd's size limits in MiB (clamd reads the config suffix M as MiB). The
# scan function gets each in bytes and never calls an object clean that is
# larger than the smallest of them, because clamd reports content past its own
# limits as OK without scanning it.
clamd_stream_max_mib=100
clamd_max_file_mib=100
clamd_max_scan_mib=400
scan_max_bytes=$((clamd_stream_max_mib * 1024 * 1024))

# Maximum wait, in seconds, for each service to become ready.
clamd_start_timeout=${FILESTORE_CLAMD_START_TIMEOUT:-60}
bao_start_timeout=${FILESTORE_BAO_START_TIMEOUT:-30}
functions_start_timeout=${FILESTORE_FUNCTIONS_START_TIMEOUT:-120}
minio_start_timeout=${FILESTORE_MINIO_START_TIMEOUT:-60}
# Maximum wait, in seconds, for a service to exit after SIGTERM before SIGKILL.
stop_timeout=${FILESTORE_STOP_TIMEOUT:-20}

# ARN of the MinIO webhook target configured by the MINIO_NOTIFY_WEBHOOK_*_FILESTORE
# variables. MinIO keeps the target ID in the case of the variable suffix, so the
# ID is upper case, and PutBucketNotificationConfiguration rejects the lower-case
# ARN (checked with MinIO built from the pinned commit in scripts/install.sh).
minio_webhook_arn=arn:minio:sqs::FILESTORE:webhook

services=(clamd openbao functions minio)

log() {
    printf 'stack: %s\n' "$*"
}

die() {
    printf 'stack: error: %s\n' "$*" >&2
    exit 1
}

pid_file() {
    printf '%s/%s.pid' "$run_dir" "$1"
}

log_file() {
    printf '%s/%s.log' "$log_dir" "$1"
}

address_of() {
    case $1 in
        clamd) printf 'tcp://%s:%s' "$host" "$clamd_port" ;;
        openbao) printf 'http://%s:%s' "$host" "$bao_port" ;;
        functions) printf 'http://%s:%s/lambda-url/<function>' "$host" "$functions_port" ;;
        minio) printf 'http://%s:%s' "$host" "$minio_port" ;;
    esac
}

# Text that the command line of each service's process contains. It guards
# against a stale pid file whose PID the kernel has reused for another program.
command_marker() {
    case $1 in
        clamd) printf 'clamd' ;;
        openbao) printf 'bao' ;;
        functions) printf 'lambda' ;;
        minio) printf 'minio' ;;
    esac
}

# Prints the PID of a service when its pid file names a live process of that service.
running_pid() {
    local service=$1 file pid cmdline
    file=$(pid_file "$service")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    process_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$(command_marker "$service")"* ]] || return 1
    printf '%s' "$pid"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

# Prints the HTTP status code of a curl request (GET unless the extra curl
# options set another method), or 000 when nothing responds.
http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

tail_log() {
    local file=$1
    if [[ -f $file ]]; then
        printf -- '--- last 30 lines of %s ---\n' "$file" >&2
        tail -n 30 "$file" >&2
        printf -- '---\n' >&2
    fi
}

# Runs CHECK (a function name) once per second until it succeeds or TIMEOUT
# seconds pass. Fails early when the service process has exited.
wait_until() {
    local service=$1 timeout=$2 check=$3 deadline
    deadline=$((SECONDS + timeout))
    local pid
    pid=$(<"$(pid_file "$service")")
    while ! "$check"; do
        # Checks only that the PID is alive, because right after launch the
        # process may not have exec'd its program yet, so its command line
        # does not contain the marker that running_pid() expects.
        if ! process_alive "$pid"; then
            return 2
        fi
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 1
    done
}

# Launches a command in its own session, in the background, with stdout and
# stderr appended to the service log, and records its PID. The new session
# makes the PID also the process group ID, so `down` can signal the service
# together with the children that stay in its group.
launch() {
    local service=$1
    shift
    local log
    log=$(log_file "$service")
    printf '\n=== %s starting %s ===\n' "$(date -u +%FT%TZ)" "$service" >>"$log"
    setsid "$@" </dev/null >>"$log" 2>&1 &
    printf '%s\n' "$!" >"$(pid_file "$service")"
}

# Succeeds when PID leads its own process group, which launch() arranges.
leads_group() {
    local group
    group=$(ps -o pgid= -p "$1" 2>/dev/null | tr -d ' ')
    [[ $group == "$1" ]]
}

# Succeeds while any process other than a zombie is in process group GROUP.
# Zombies are skipped because an init that does not reap them (common in
# containers) would otherwise keep the group alive forever.
group_alive() {
    ps -e -o pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# Succeeds while PID is a live process and not a zombie.
process_alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n $state && $state != Z* ]]
}

# Prints the PIDs of all descendants of PID, one per line.
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END {
            found[root] = 1
            do {
                added = 0
                for (child in parent) {
                    if (!(child in found) && (parent[child] in found)) {
                        found[child] = 1
                        added = 1
                        print child
                    }
                }
            } while (added)
        }'
}

# Sends SIGTERM to a service, waits up to stop_timeout seconds, then sends
# SIGKILL to whatever is left. When the service leads its own process group,
# SIGTERM goes to the whole group. cargo lambda watch starts each function
# instance in a session of its own and stops them itself on SIGTERM, so only
# the SIGKILL fallback has to reach them, through the descendants recorded
# before the first signal.
stop_service() {
    local service=$1 pid target deadline child children
    if ! pid=$(running_pid "$service"); then
        rm -f "$(pid_file "$service")"
        log "$service: not running"
        return
    fi

    target=$pid
    if leads_group "$pid"; then
        target=-$pid
    fi
    children=$(descendants "$pid")
    log "$service: stopping (pid $pid)"
    kill -TERM -- "$target" 2>/dev/null || true
    deadline=$((SECONDS + stop_timeout))
    while ((SECONDS < deadline)); do
        if [[ $target == -* ]] && ! group_alive "$pid"; then
            break
        fi
        if [[ $target != -* ]] && ! process_alive "$pid"; then
            break
        fi
        sleep 0.2
    done
    if { [[ $target == -* ]] && group_alive "$pid"; } || process_alive "$pid"; then
        log "$service: still running after ${stop_timeout}s, sending SIGKILL"
        kill -KILL -- "$target" 2>/dev/null || true
    fi
    for child in $children; do
        if process_alive "$child"; then
            log "$service: child process $child still running, sending SIGKILL"
            kill -KILL "$child" 2>/dev/null || true
        fi
    done
    rm -f "$(pid_file "$service")"
    log "$service: stopped"
}

# Stops a service that did not become ready, prints its log tail and exits.
fail_start() {
    local service=$1 reason=$2
    printf 'stack: error: %s %s\n' "$service" "$reason" >&2
    tail_log "$(log_file "$service")"
    stop_service "$service" >&2
    exit 1
}

# Fails when a port that a service is about to use is taken by another program.
require_free_port() {
    local service=$1 port=$2
    if port_open "$port"; then
        die "$service: port $host:$port is already in use by a process this script did not start; stop it or free the port"
    fi
}

# --- secrets and environment file -------------------------------------------

random_hex() {
    od -An -v -N "$1" -tx1 /dev/urandom | tr -d ' \n'
}

# Creates secrets.env once per stack, adding only the secrets that are missing.
ensure_secrets() {
    local name value
    # Length of each secret in random bytes. The hex text is twice as long.
    local -A length_of=(
        [MINIO_ROOT_USER]=10
        [MINIO_ROOT_PASSWORD]=24
        [BAO_ROOT_TOKEN]=24
        [SCAN_WEBHOOK_TOKEN]=24
        [NOTIFY_TOKEN]=24
        [NOTIFY_WEBHOOK_SECRET]=32
        [PRESIGN_JWT_HS256_SECRET]=32
        [VAULT_ROLE_ID]=16
        [VAULT_SECRET_ID]=24
    )
    (
        umask 077
        touch "$secrets_file"
    )
    for name in "${!length_of[@]}"; do
        if ! grep -q "^$name=" "$secrets_file"; then
            value=$(random_hex "${length_of[$name]}")
            printf '%s=%s\n' "$name" "$value" >>"$secrets_file"
        fi
    done
    # MinIO's built-in KMS key, <key name>:<base64 of 32 bytes>, which encrypts
    # the incoming and quarantine buckets at rest (SSE-S3).
    if ! grep -q '^MINIO_KMS_SECRET_KEY=' "$secrets_file"; then
        value=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
        printf 'MINIO_KMS_SECRET_KEY=filestore-at-rest:%s\n' "$value" >>"$secrets_file"
    fi
}

load_secrets() {
    # shellcheck disable=SC1090
    . "$secrets_file"
}

# Writes the sourceable environment file that the functions, tests and demo read.
write_env_file() {
    ensure_secrets
    load_secrets
    local tmp
    tmp=$(mktemp "$env_file.XXXXXX")
    chmod 600 "$tmp"
    {
        printf '# Generated by scripts/stack.sh and rewritten on every "up".\n'
        export_line AWS_ACCESS_KEY_ID "$MINIO_ROOT_USER"
        export_line AWS_SECRET_ACCESS_KEY "$MINIO_ROOT_PASSWORD"
        export_line AWS_REGION us-east-1
        export_line AWS_ENDPOINT_URL_S3 "http://$host:$minio_port"
        export_line S3_FORCE_PATH_STYLE true
        export_line AWS_EC2_METADATA_DISABLED true
        export_line INCOMING_BUCKET incoming
        export_line STATUS_BUCKET filestore-status
        export_line SCAN_CLAMD_ADDR "$host:$clamd_port"
        export_line SCAN_MAX_BYTES "$scan_max_bytes"
        export_line CLAMD_STREAM_MAX_LENGTH "$((clamd_stream_max_mib * 1024 * 1024))"
        export_line CLAMD_MAX_FILE_SIZE "$((clamd_max_file_mib * 1024 * 1024))"
        export_line CLAMD_MAX_SCAN_SIZE "$((clamd_max_scan_mib * 1024 * 1024))"
        export_line QUARANTINE_BUCKET filestore-quarantine
        export_line STORE_BUCKET filestore-files
        export_line PRESIGN_JWT_HS256_SECRET "$PRESIGN_JWT_HS256_SECRET"
        # Large enough for the multipart test's 120 MiB file, which then gets the
        # verdict unscannable because it is over clamd's stream limit.
        export_line PRESIGN_MAX_BYTES "$((1024 * 1024 * 1024))"
        export_line PRESIGN_MULTIPART_THRESHOLD "$((16 * 1024 * 1024))"
        export_line PRESIGN_PART_SIZE "$((16 * 1024 * 1024))"
        export_line SCAN_WEBHOOK_TOKEN "$SCAN_WEBHOOK_TOKEN"
        export_line NOTIFY_URL "http://$host:$functions_port/lambda-url/notify/verdicts"
        export_line NOTIFY_TOKEN "$NOTIFY_TOKEN"
        export_line NOTIFY_WEBHOOK_URLS "http://$host:9400/webhook"
        export_line NOTIFY_WEBHOOK_SECRET "$NOTIFY_WEBHOOK_SECRET"
        export_line FUNCTIONS_URL "http://$host:$functions_port/lambda-url"
        export_line VAULT_ADDR "http://$host:$bao_port"
        export_line VAULT_TOKEN "$BAO_ROOT_TOKEN"
        # The functions log in with AppRole (role filestore), whose policy allows
        # only data keys, unwrap and rewrap; VAULT_TOKEN is the root token for
        # tests and the demo, which also rotate the key.
        export_line VAULT_ROLE_ID "$VAULT_ROLE_ID"
        export_line VAULT_SECRET_ID "$VAULT_SECRET_ID"
        export_line BAO_ADDR "http://$host:$bao_port"
        export_line BAO_TOKEN "$BAO_ROOT_TOKEN"
        export_line VAULT_TRANSIT_KEY filestore
        export_line MINIO_WEBHOOK_ARN "$minio_webhook_arn"
        export_line FILESTORE_STATE_DIR "$state_dir"
    } >"$tmp"
    mv -f "$tmp" "$env_file"
}

export_line() {
    printf 'export %s=%q\n' "$1" "$2"
}

# --- clamd -------------------------------------------------------------------

write_clamd_config() {
    mkdir -p "$clamd_dir/tmp"
    "$repo_root/scripts/clamd-signatures.sh" "$clamd_dir/db"
    cat >"$clamd_dir/clamd.conf" <<EOF
# Generated by scripts/stack.sh and rewritten on every "up".
# clamd for the local stack: TCP on 127.0.0.1 only, no local socket, and no
# User line, so it runs as the user who starts the stack.
Foreground yes
TCPSocket $clamd_port
TCPAddr $host
DatabaseDirectory $clamd_dir/db
TemporaryDirectory $clamd_dir/tmp
LogFile $(log_file clamd)
LogTime yes
PidFile $clamd_dir/clamd.pid
StreamMaxLength ${clamd_stream_max_mib}M
MaxFileSize ${clamd_max_file_mib}M
MaxScanSize ${clamd_max_scan_mib}M
MaxRecursion 16
MaxFiles 10000
AlertExceedsMax yes
AlertEncrypted yes
AlertBrokenExecutables no
MaxThreads 4
ReadTimeout 60
CommandReadTimeout 30
EOF
}

# Succeeds when clamd replies PONG to PING. The z prefix makes clamd read a
# NUL-terminated command and end its reply with NUL.
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

start_clamd() {
    local pid
    # The config and signatures are rewritten even when clamd is running, so a
    # change reaches it at its next SelfCheck.
    write_clamd_config
    if pid=$(running_pid clamd) && clamd_ready; then
        log "clamd: already running (pid $pid)"
        return
    fi
    if [[ -z ${pid:-} ]]; then
        require_free_port clamd "$clamd_port"
        log "clamd: starting"
        launch clamd /usr/sbin/clamd -c "$clamd_dir/clamd.conf"
    fi
    local status=0
    wait_until clamd "$clamd_start_timeout" clamd_ready || status=$?
    case $status in
        0) log "clamd: ready at $(address_of clamd)" ;;
        1) fail_start clamd "did not answer PING within ${clamd_start_timeout}s" ;;
        *) fail_start clamd "exited during start-up" ;;
    esac
}

# --- OpenBao -----------------------------------------------------------------

bao_ready() {
    [[ $(http_status "http://$host:$bao_port/v1/sys/health") == 200 ]]
}

# Runs the bao CLI against the stack's server with the root token.
bao_cli() {
    BAO_ADDR="http://$host:$bao_port" BAO_TOKEN="$BAO_ROOT_TOKEN" bao "$@"
}

bao_listening() {
    [[ $(http_status "http://$host:$bao_port/v1/sys/health") != 000 ]]
}

write_bao_config() {
    mkdir -p "$bao_dir/data"
    cat >"$bao_dir/openbao.hcl" <<EOF
# Generated by scripts/stack.sh and rewritten on every "up".
# OpenBao for the local stack: one-node integrated (raft) storage under the
# state folder, so keys survive a restart; HTTP on 127.0.0.1 only.
storage "raft" {
  path    = "$bao_dir/data"
  node_id = "filestore"
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
}

start_openbao() {
    local pid
    if pid=$(running_pid openbao) && bao_ready; then
        log "openbao: already running (pid $pid)"
    else
        if [[ -z ${pid:-} ]]; then
            require_free_port openbao "$bao_port"
            write_bao_config
            log "openbao: starting (raft storage in $bao_dir/data)"
            launch openbao bao server -config="$bao_dir/openbao.hcl"
        fi
        local status=0
        wait_until openbao "$bao_start_timeout" bao_listening || status=$?
        case $status in
            0) ;;
            1) fail_start openbao "did not answer within ${bao_start_timeout}s" ;;
            *) fail_start openbao "exited during start-up" ;;
        esac
        initialise_and_unseal
        status=0
        wait_until openbao "$bao_start_timeout" bao_ready || status=$?
        case $status in
            0) log "openbao: ready at $(address_of openbao)" ;;
            1) fail_start openbao "did not report healthy within ${bao_start_timeout}s" ;;
            *) fail_start openbao "exited during start-up" ;;
        esac
    fi
    ensure_root_token
    configure_transit
    configure_approle
}

# Initialises OpenBao on first start (one unseal key, kept with the initial
# root token in $bao_dir/init.json, mode 600) and unseals it on every start.
initialise_and_unseal() {
    local init_file=$bao_dir/init.json addr="http://$host:$bao_port"
    if [[ $(http_status "$addr/v1/sys/health") == 501 ]]; then
        log "openbao: initialising (1 key share)"
        (
            umask 077
            BAO_ADDR=$addr bao operator init -key-shares=1 -key-threshold=1 \
                -format=json >"$init_file.tmp"
        ) || die "openbao: bao operator init failed"
        mv -f "$init_file.tmp" "$init_file"
    fi
    [[ -f $init_file ]] ||
        die "openbao: $bao_dir/data was initialised elsewhere and $init_file is missing; run 'scripts/stack.sh down --purge'"
    if [[ $(http_status "$addr/v1/sys/health") == 503 ]]; then
        BAO_ADDR=$addr bao operator unseal "$(json_field "$init_file" unseal_keys_b64 0)" >/dev/null ||
            die "openbao: unsealing failed"
        log "openbao: unsealed"
    fi
}

# Prints one field of a JSON file: json_field FILE KEY [INDEX].
json_field() {
    python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))[sys.argv[2]]
print(value[int(sys.argv[3])] if len(sys.argv) > 3 else value)' "$@"
}

# Makes the stack's root token (BAO_ROOT_TOKEN in secrets.env) exist, created
# with the initial root token, so the environment file stays the same across
# restarts.
ensure_root_token() {
    if bao_cli token lookup >/dev/null 2>&1; then
        return
    fi
    BAO_ADDR="http://$host:$bao_port" BAO_TOKEN="$(json_field "$bao_dir/init.json" root_token)" \
        bao token create -id="$BAO_ROOT_TOKEN" -policy=root -orphan >/dev/null ||
        die "openbao: creating the stack's root token failed"
    log "openbao: root token created"
}

# Enables the transit engine and creates the filestore key unless they exist.
configure_transit() {
    local mounts
    mounts=$(bao_cli secrets list -format=json) ||
        die "openbao: listing secrets engines failed"
    if [[ $mounts != *'"transit/"'* ]]; then
        bao_cli secrets enable transit >/dev/null ||
            die "openbao: enabling the transit secrets engine failed"
        log "openbao: transit secrets engine enabled"
    fi
    if ! bao_cli read -format=json transit/keys/filestore >/dev/null 2>&1; then
        bao_cli write -f transit/keys/filestore type=aes256-gcm96 >/dev/null ||
            die "openbao: creating transit key filestore failed"
        log "openbao: transit key filestore created (aes256-gcm96)"
    fi
}

# Enables AppRole and creates the role the functions log in with. Its policy
# allows creating data keys, unwrapping and rewrapping them, and reading the
# key's versions: nothing else, so it cannot rotate or export the key.
configure_approle() {
    local auths
    auths=$(bao_cli auth list -format=json) || die "openbao: listing auth methods failed"
    if [[ $auths != *'"approle/"'* ]]; then
        bao_cli auth enable approle >/dev/null || die "openbao: enabling AppRole failed"
        log "openbao: AppRole enabled"
    fi
    bao_cli policy write filestore-functions - >/dev/null <<'EOF' || die "openbao: writing the functions' policy failed"
path "transit/datakey/plaintext/filestore" { capabilities = ["update"] }
path "transit/decrypt/filestore" { capabilities = ["update"] }
path "transit/rewrap/filestore" { capabilities = ["update"] }
path "transit/keys/filestore" { capabilities = ["read"] }
EOF
    bao_cli write auth/approle/role/filestore token_policies=filestore-functions \
        token_ttl=1h token_max_ttl=4h secret_id_ttl=0 >/dev/null ||
        die "openbao: writing AppRole role filestore failed"
    bao_cli write auth/approle/role/filestore/role-id role_id="$VAULT_ROLE_ID" >/dev/null ||
        die "openbao: setting the role id failed"
    if ! BAO_ADDR="http://$host:$bao_port" bao write auth/approle/login \
        role_id="$VAULT_ROLE_ID" secret_id="$VAULT_SECRET_ID" >/dev/null 2>&1; then
        bao_cli write auth/approle/role/filestore/custom-secret-id \
            secret_id="$VAULT_SECRET_ID" >/dev/null ||
            die "openbao: setting the secret id failed"
        log "openbao: AppRole role filestore ready"
    fi
}

# --- functions ---------------------------------------------------------------

# Succeeds when cargo lambda watch responds to HTTP at all. It returns 404 for /
# and logs an ERROR line ("the default function route is disabled") for each
# probe, which is expected.
functions_ready() {
    [[ $(http_status "http://$host:$functions_port/") != 000 ]]
}

start_functions() {
    if [[ ${FILESTORE_SKIP_FUNCTIONS:-} == 1 ]]; then
        log "functions: skipped (FILESTORE_SKIP_FUNCTIONS=1)"
        return
    fi
    local pid
    if pid=$(running_pid functions) && functions_ready; then
        log "functions: already running (pid $pid)"
        return
    fi
    if [[ -z ${pid:-} ]]; then
        require_free_port functions "$functions_port"
        log "functions: building (cargo build --workspace --bins)"
        (cd "$repo_root" && cargo build --workspace --bins) ||
            die "functions: cargo build failed; fix the compile errors above and run up again"
        log "functions: starting cargo lambda watch"
        (
            cd "$repo_root"
            # shellcheck disable=SC1090
            . "$env_file"
            local watch_options=(--invoke-address "$host" --invoke-port "$functions_port")
            if [[ ${FILESTORE_FUNCTIONS_NO_RELOAD:-} == 1 ]]; then
                watch_options+=(--ignore-changes)
            fi
            launch functions cargo lambda watch "${watch_options[@]}"
        )
    fi
    local status=0
    wait_until functions "$functions_start_timeout" functions_ready || status=$?
    case $status in
        0) log "functions: ready at $(address_of functions)" ;;
        1) fail_start functions "did not answer HTTP within ${functions_start_timeout}s" ;;
        *) fail_start functions "exited during start-up" ;;
    esac
    warm_functions
}

# Sends one cheap request to each function so its instance is running before
# the tests or MinIO call it.
#
# cargo lambda watch (checked with 1.9.2) starts a function instance on the
# first request to /lambda-url/<name>/..., by running `cargo run --bin <name>`
# with the dev profile, the same profile as the `cargo build` above, so the
# instance starts without compiling. It passes on its own environment, which
# includes the sourced env file, and strips /lambda-url/<name> from the path:
# /lambda-url/notify/verdicts reaches the notify function as /verdicts. It also
# restarts an instance (and rebuilds) when a source file changes, unless
# FILESTORE_FUNCTIONS_NO_RELOAD=1.
warm_functions() {
    local base="http://$host:$functions_port/lambda-url" name code
    for name in presign notify upload; do
        code=$(http_status --max-time "$functions_start_timeout" "$base/$name/healthz")
        if [[ $code == 000 ]]; then
            fail_start functions "did not answer GET $base/$name/healthz within ${functions_start_timeout}s"
        fi
        log "functions: $name warmed (GET /healthz returned $code)"
    done

    # MinIO probes the webhook endpoint with an empty POST and expects 200.
    code=$(http_status --max-time "$functions_start_timeout" -X POST \
        -H "Authorization: Bearer $SCAN_WEBHOOK_TOKEN" "$base/scan")
    case $code in
        200) log "functions: scan warmed (empty POST returned 200)" ;;
        000) fail_start functions "did not answer POST $base/scan within ${functions_start_timeout}s" ;;
        *)
            printf 'stack: warning: scan returned HTTP %s to the empty POST that MinIO sends as a probe, expected 200; see %s\n' \
                "$code" "$(log_file functions)" >&2
            ;;
    esac
}

# --- MinIO -------------------------------------------------------------------

minio_ready() {
    [[ $(http_status "http://$host:$minio_port/minio/health/ready") == 200 ]]
}

start_minio() {
    [[ -x $minio_bin ]] || die "minio: $minio_bin not found; run scripts/install.sh"
    local pid
    if pid=$(running_pid minio) && minio_ready; then
        log "minio: already running (pid $pid)"
        return
    fi
    if [[ -z ${pid:-} ]]; then
        require_free_port minio "$minio_port"
        require_free_port minio "$minio_console_port"
        mkdir -p "$minio_dir/data" "$minio_dir/events"
        log "minio: starting"
        # The webhook target FILESTORE sends bucket events to the scan function.
        # queue_dir stores events on disk while the function is unreachable and
        # resends them later.
        MINIO_ROOT_USER=$MINIO_ROOT_USER \
            MINIO_ROOT_PASSWORD=$MINIO_ROOT_PASSWORD \
            MINIO_BROWSER=off \
            MINIO_KMS_SECRET_KEY=$MINIO_KMS_SECRET_KEY \
            MINIO_NOTIFY_WEBHOOK_ENABLE_FILESTORE=on \
            MINIO_NOTIFY_WEBHOOK_ENDPOINT_FILESTORE="http://$host:$functions_port/lambda-url/scan" \
            MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_FILESTORE=$SCAN_WEBHOOK_TOKEN \
            MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_FILESTORE="$minio_dir/events" \
            MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_FILESTORE=100000 \
            launch minio "$minio_bin" server "$minio_dir/data" \
            --address "$host:$minio_port" --console-address "$host:$minio_console_port"
    fi
    local status=0
    wait_until minio "$minio_start_timeout" minio_ready || status=$?
    case $status in
        0) log "minio: ready at $(address_of minio)" ;;
        1) fail_start minio "did not report ready within ${minio_start_timeout}s" ;;
        *) fail_start minio "exited during start-up" ;;
    esac
}

# --- buckets and notifications -------------------------------------------------

run_setup() {
    if [[ ${FILESTORE_SKIP_SETUP:-} == 1 ]]; then
        log "setup: skipped (FILESTORE_SKIP_SETUP=1)"
        return
    fi
    log "setup: creating buckets and notification configuration (stack-setup)"
    (
        cd "$repo_root"
        # shellcheck disable=SC1090
        . "$env_file"
        cargo run -q -p filestore-e2e --bin stack-setup
    ) || die "setup: stack-setup failed; see its output above"
}

# --- commands ----------------------------------------------------------------

cmd_up() {
    mkdir -p "$run_dir" "$log_dir"
    write_env_file
    start_clamd
    start_openbao
    start_functions
    start_minio
    run_setup
    log "up; environment file: $env_file"
    cmd_status
}

cmd_down() {
    local purge=0
    case ${1:-} in
        "") ;;
        --purge) purge=1 ;;
        *) die "unknown option for down: $1 (expected --purge)" ;;
    esac
    local index
    for ((index = ${#services[@]} - 1; index >= 0; index--)); do
        stop_service "${services[index]}"
    done
    if ((purge)); then
        log "purging MinIO and OpenBao data, logs, clamd files and secrets in $state_dir"
        rm -rf "$minio_dir" "$bao_dir" "$log_dir" "$clamd_dir" "$run_dir" "$secrets_file" "$env_file"
    fi
}

cmd_status() {
    local service pid
    for service in "${services[@]}"; do
        if pid=$(running_pid "$service"); then
            printf '%-10s running  pid %-8s %s\n' "$service" "$pid" "$(address_of "$service")"
        else
            printf '%-10s stopped  %-12s %s\n' "$service" "" "$(address_of "$service")"
        fi
    done
}

cmd_env() {
    write_env_file
    printf '%s\n' "$env_file"
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down "${2:-}" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        printf 'usage: %s up|down [--purge]|status|env\n' "$0" >&2
        exit 2
        ;;
esac
