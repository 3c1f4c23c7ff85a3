#!/usr/bin/env bash
# The main job in one run: back up a data directory, lose it, get it back.
# Uses the embedded defaults: the localfs database plugin and the local storage provider.
set -euo pipefail
BRS="${BRS:-$(dirname "$0")/../.venv/bin/brs}"
WORK="$(mktemp -d /tmp/brs-demo.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

export BRS_DB=localfs
export BRS_DB_DATA_DIRECTORY="$WORK/data"
export BRS_LOCAL_PROVIDER_BACKUP_PATH="$WORK/backups"
export BRS_COMPRESSION_METHOD=tarzst
export BRS_LOG_FORMAT=text
head -c 32 /dev/urandom | base64 | head -c 32 > "$WORK/key" # 32 ASCII characters
export BRS_ENCRYPTION_KEY_FILE="$WORK/key"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a data directory with some precious files"
mkdir -p "$BRS_DB_DATA_DIRECTORY/orders/2026" "$BRS_DB_DATA_DIRECTORY/empty"
echo "order 1: 3 apples" > "$BRS_DB_DATA_DIRECTORY/orders/2026/0001.txt"
printf 'ünïcødé\n' > "$BRS_DB_DATA_DIRECTORY/notes-ü.txt"
head -c 20000000 /dev/urandom > "$BRS_DB_DATA_DIRECTORY/blob.bin"
ln -s orders/2026/0001.txt "$BRS_DB_DATA_DIRECTORY/latest-order"
chmod 600 "$BRS_DB_DATA_DIRECTORY/orders/2026/0001.txt"
(cd "$BRS_DB_DATA_DIRECTORY" && find . -printf '%M %s %p\n' | sort -k3) | tee "$WORK/before.txt"
(cd "$BRS_DB_DATA_DIRECTORY" && find . -type f -exec sha256sum {} + | sort) > "$WORK/before.sha"

step "brs backup (encrypted, zstd)"
"$BRS" backup
"$BRS" backups list

step "disaster: the data directory is gone"
rm -rf "$BRS_DB_DATA_DIRECTORY"
ls "$BRS_DB_DATA_DIRECTORY" 2>&1 || true

step "brs verify, then brs restore latest"
"$BRS" verify latest
"$BRS" restore latest

step "proof: same files, modes, links and content"
(cd "$BRS_DB_DATA_DIRECTORY" && find . -printf '%M %s %p\n' | sort -k3) > "$WORK/after.txt"
(cd "$BRS_DB_DATA_DIRECTORY" && find . -type f -exec sha256sum {} + | sort) > "$WORK/after.sha"
diff "$WORK/before.txt" "$WORK/after.txt"
diff "$WORK/before.sha" "$WORK/after.sha"
echo "restored $(wc -l < "$WORK/after.sha") files; listing and SHA-256 of every file match the original"
