#!/usr/bin/env bash
# Build the Debian 12 root file systems the pod tests import as base images, from the machine's
# own apt sources (no registry), and cache them as tar files:
#
#   $BRS_IMAGE_CACHE/brs-test-base-<hash>.tar   bookworm minbase + python3 + python3-venv +
#        postgresql-15 + redis-server + valkey-server 8 (bookworm-backports) + etcd 3.4 +
#        meilisearch (the binary scripts/install-test-servers.sh installs) + patchelf +
#        rethinkdb 2.4.4 (the same script's build, with its runtime libraries) + TimescaleDB
#        2.28.3 for PostgreSQL 15 (unpacked from the shared folder, sha256-checked).
#        The user postgres has uid/gid 999 and PostgreSQL's programs are on PATH, as in the
#        official postgres image, whose docker-entrypoint.sh is stood in for by
#        tests/pods/base/docker-entrypoint.sh.
#   $BRS_IMAGE_CACHE/brs-test-stock-redis-<hash>.tar   bookworm minbase + redis-server and
#        nothing else (no Python): stands in for an unmodified database image.
#
# <hash> is a digest of everything that goes into the tar (package lists, hooks, the
# Meilisearch and RethinkDB binaries, the TimescaleDB tarball), so a change rebuilds and an unchanged list reuses the cached file.
# BRS_IMAGE_CACHE defaults to /var/cache/brs-test/images; delete it to force a rebuild.
# Prints one line per image: NAME=PATH. About 5 minutes cold (both at once), nothing when cached.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-install.sh
. "$HERE/lib-install.sh"
require_root
command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run scripts/install-container-tools.sh first"

CACHE=${BRS_IMAGE_CACHE:-/var/cache/brs-test/images}
MEILI=${BRS_MEILISEARCH_BINARY:-$BRS_TEST_ROOT/meilisearch/meilisearch}
[ -x "$MEILI" ] || die "$MEILI missing: run scripts/install-test-servers.sh first"
RETHINKDB=${BRS_RETHINKDB_BINARY:-$BRS_TEST_ROOT/rethinkdb-2.4.4/bin/rethinkdb}
[ -x "$RETHINKDB" ] || die "$RETHINKDB missing: run scripts/install-test-servers.sh first"
SERVERS=${BRS_SHARED_DIR:-$HERE/../../shared}/servers
TIMESCALEDB=timescaledb/timescaledb-2.28.3-pg15-debian-bookworm-amd64.tar.gz
TIMESCALEDB_SHA=$(awk -v f="$TIMESCALEDB" '$2==f {print $1}' "$SERVERS/SHA256SUMS" 2>/dev/null || true)
[ -n "$TIMESCALEDB_SHA" ] && echo "$TIMESCALEDB_SHA  $SERVERS/$TIMESCALEDB" | sha256sum -c --status ||
    die "$SERVERS/$TIMESCALEDB missing or not as $SERVERS/SHA256SUMS says (set BRS_SHARED_DIR)"
CODENAME=bookworm
mkdir -p "$CACHE"

# The apt sources: the host's own (main archive, updates, security) plus bookworm-backports on
# the same mirror, written here so that the build does not depend on the host having enabled it.
SOURCES=$(mktemp -d "${TMPDIR:-/tmp}/brs-sources.XXXXXX")
trap 'rm -rf "$SOURCES"' EXIT
MIRROR=$(debian_mirror)
cat > "$SOURCES/debian.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $CODENAME main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $CODENAME-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $CODENAME-backports main
EOF
SECURITY=$(awk '/^URIs:/{u=$2} /^Suites:.*-security/{print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
SECURITY=${SECURITY:-${MIRROR%/debian}/debian-security}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${SECURITY%/} $CODENAME-security main" >> "$SOURCES/debian.list"

BASE_PKGS="python3,python3-venv,patchelf,ca-certificates,postgresql-15,redis-server,etcd-server,etcd-client,valkey-server/$CODENAME-backports,valkey-tools/$CODENAME-backports,libre2-9,libprotobuf32,libcurl4,libssl3,zlib1g"
STOCK_PKGS="redis-server"
# uid/gid 999 for postgres before postgresql-common creates the account (it keeps an existing one).
USERS_HOOK='echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >> "$1/etc/passwd"; echo "postgres:x:999:" >> "$1/etc/group"; echo "postgres:*:19000:0:99999:7:::" >> "$1/etc/shadow"'
ENTRYPOINT=$HERE/../tests/pods/base/docker-entrypoint.sh
MEILI_SHA=$(sha256sum "$MEILI" | cut -d' ' -f1)
ENTRYPOINT_SHA=$(sha256sum "$ENTRYPOINT" | cut -d' ' -f1)
RETHINKDB_SHA=$(sha256sum "$RETHINKDB" | cut -d' ' -f1)
TIMESCALEDB_HOOK="tar -C \"\$1\" -xzf $SERVERS/$TIMESCALEDB --no-same-owner --no-overwrite-dir"

build() {   # build NAME PACKAGES KEY-EXTRA MMDEBSTRAP-ARGS... -> prints NAME=PATH
    local name=$1 pkgs=$2 extra=$3
    shift 3
    local key tar
    # Not "$@": it names paths of this checkout, and another clone must find the same cache.
    key=$(printf '%s\n' "v1" "$CODENAME" "$pkgs" "$extra" | sha256sum | cut -c1-16)
    tar=$CACHE/$name-$key.tar
    if [ ! -s "$tar" ]; then
        # mmdebstrap picks the output format from the name: it must end in .tar.
        step_start "mmdebstrap $name ($pkgs)"
        nice -n 10 mmdebstrap --quiet --mode=root --variant=minbase --include="$pkgs" \
            --aptopt='Acquire::Languages "none"' \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
            "$@" "$CODENAME" "$CACHE/partial-$name-$key.tar" "$SOURCES/debian.list"
        mv -f "$CACHE/partial-$name-$key.tar" "$tar"
        step_end "($(du -h "$tar" | cut -f1))"
        # Older builds of the same image are superseded.
        find "$CACHE" -maxdepth 1 \( -name "$name-*.tar" -o -name "partial-$name-*.tar" \) ! -name "$name-$key.tar" -delete
    fi
    echo "$name=$tar"
}

# Both at once: most of the time goes to downloads and dpkg, not to the CPU.
build brs-test-base "$BASE_PKGS" "$MEILI_SHA $ENTRYPOINT_SHA $USERS_HOOK $RETHINKDB_SHA $TIMESCALEDB_SHA" \
    --essential-hook="$USERS_HOOK" --customize-hook="copy-in $MEILI /usr/local/bin" \
    --customize-hook="copy-in $RETHINKDB /usr/local/bin" --customize-hook="$TIMESCALEDB_HOOK" \
    --customize-hook="copy-in $ENTRYPOINT /usr/local/bin" > "$SOURCES/base.out" &
base=$!
build brs-test-stock-redis "$STOCK_PKGS" "" > "$SOURCES/stock.out" &
stock=$!
wait "$base" || die "building brs-test-base failed"
wait "$stock" || die "building brs-test-stock-redis failed"
cat "$SOURCES/base.out" "$SOURCES/stock.out"
