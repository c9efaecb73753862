#!/usr/bin/env bash
# Write the project's ClamAV signature database into a folder for clamd.
#
# Usage: scripts/clamd-signatures.sh DB_DIR
#
# The folder gets two small signature files so the stack detects the EICAR test
# file without downloading the official databases:
#   filestore.hdb  MD5 of the 68-byte EICAR file (matches the whole file only).
#   filestore.ndb  body signature on the EICAR string, so EICAR embedded in a
#                  larger file or archive member is found too.
# Official databases (*.cvd, *.cld, *.cud) present in CLAMAV_SYSTEM_DB_DIR
# (default /var/lib/clamav, where Debian's freshclam stores them) are linked in
# as well. Files are rewritten only when their content changes, so clamd's
# SelfCheck does not reload the database for nothing.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 DB_DIR" >&2
    exit 2
fi

db_dir=$1
system_db_dir=${CLAMAV_SYSTEM_DB_DIR:-/var/lib/clamav}

# Writes stdin to a file unless the file already has exactly that content.
write_if_changed() {
    local target=$1 tmp
    tmp=$(mktemp "$target.XXXXXX")
    cat >"$tmp"
    if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
        rm -f "$tmp"
    else
        chmod 644 "$tmp"
        mv -f "$tmp" "$target"
    fi
}

mkdir -p "$db_dir"

# hdb format is MD5:size:name. 44d886... is the MD5 of the standard 68-byte EICAR file.
printf '%s\n' '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature' |
    write_if_changed "$db_dir/filestore.hdb"

# ndb format is name:target type:offset:hex body. Target type 0 matches any
# file type and offset * matches anywhere in the file.
eicar_hex=$(printf '%s' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' | od -An -v -tx1 | tr -d ' \n')
printf 'Filestore.Test.EICAR:0:*:%s\n' "$eicar_hex" |
    write_if_changed "$db_dir/filestore.ndb"

# Drop links to official databases that freshclam has since removed or replaced.
for link in "$db_dir"/*; do
    if [[ -L $link && ! -e $link ]]; then
        rm -f "$link"
    fi
done

shopt -s nullglob
for database in "$system_db_dir"/*.cvd "$system_db_dir"/*.cld "$system_db_dir"/*.cud; do
    ln -sfn "$database" "$db_dir/$(basename "$database")"
done
