#!/usr/bin/env bash
# Start every installed test server once on 127.0.0.1 (ports 17900-17989),
# check that it answers, and stop it again by its PID. Takes a few seconds
# (+~20 s with --with-ceph). Exit code 1 if any server failed.
# usage: smoke-test-servers.sh [--with-ceph]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test-servers.env
. "$HERE/test-servers.env"
WITH_CEPH=0
[ "${1:-}" = --with-ceph ] && WITH_CEPH=1

W=$(mktemp -d "${TMPDIR:-/tmp}/brs-smoke.XXXXXX")
chmod 755 "$W"
PIDS=()          # children / daemons to stop on exit
CEPH_DIR=""
cleanup() {
    local p
    for p in "${PIDS[@]}"; do [ -n "$p" ] || continue; kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -d "$W/pg/data" ] && [ -f "$W/pg/data/postmaster.pid" ]; then
        runuser -u postgres -- "$BRS_PG15_BINDIR/pg_ctl" -D "$W/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "$CEPH_DIR" ]; then "$HERE/ceph-rgw-stop.sh" "$CEPH_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$W"
}
trap cleanup EXIT

ok=0 failed=0
declare -a RESULTS=()
now() { date +%s.%N; }
dt() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
until_ok() {   # until_ok TENTHS CMD...
    local n=$1; shift
    for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
stop_pid() {   # stop_pid PID : TERM, wait, KILL; then drop it from PIDS
    local p=$1
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    local keep=() q
    for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}
result() {     # result NAME RC START_T INFO
    if [ "$2" = 0 ]; then ok=$((ok + 1)); RESULTS+=("$(printf 'OK    %-12s ready in %5ss  %s' "$1" "$3" "$4")")
    else failed=$((failed + 1)); RESULTS+=("$(printf 'FAIL  %-12s %s' "$1" "$4")"); fi
}

# --- PostgreSQL 15 ---------------------------------------------------------------
smoke_pg() {
    local D=$W/pg t v
    mkdir -p "$D" && chown postgres:postgres "$D" && chmod 700 "$D"
    runuser -u postgres -- "$BRS_PG15_BINDIR/initdb" -D "$D/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$W/pg-initdb.log" 2>&1 || return 1
    t=$(now)
    runuser -u postgres -- "$BRS_PG15_BINDIR/pg_ctl" -D "$D/data" -l "$D/log" -w -o \
        "-p 17900 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$D" start >/dev/null || return 1
    T=$(dt "$t")
    v=$("$BRS_PG15_BINDIR/psql" -h 127.0.0.1 -p 17900 -U postgres -Atc 'show server_version') || return 1
    INFO="PostgreSQL $v on 127.0.0.1:17900"
    runuser -u postgres -- "$BRS_PG15_BINDIR/pg_ctl" -D "$D/data" -w stop >/dev/null
}

# --- Redis / Valkey --------------------------------------------------------------
smoke_redis() {   # smoke_redis SERVER CLI PORT NAME
    local D=$W/$4 t pid v
    mkdir -p "$D"
    t=$(now)
    "$1" --port "$3" --bind 127.0.0.1 --dir "$D" --daemonize yes --pidfile "$D/pid" \
        --logfile "$D/log" --save '' --appendonly no || return 1
    until_ok 50 test -s "$D/pid" || return 1
    pid=$(cat "$D/pid"); PIDS+=("$pid")
    until_ok 50 sh -c "[ \"\$('$2' -h 127.0.0.1 -p $3 ping)\" = PONG ]" || return 1
    T=$(dt "$t")
    v=$("$2" -h 127.0.0.1 -p "$3" info server | tr -d '\r' | grep -E '^(redis|valkey)_version:' | tail -1)
    INFO="$v on 127.0.0.1:$3 (pid $pid)"
    stop_pid "$pid"
}

# --- etcd ----------------------------------------------------------------------------
smoke_etcd() {    # smoke_etcd BINDIR PORT NAME
    local D=$W/$3 t pid c=$2 p=$(($2 + 1)) m=$(($2 + 2)) v
    mkdir -p "$D"
    t=$(now)
    "$1/etcd" --name n1 --data-dir "$D/data" \
        --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
        --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
        --initial-cluster "n1=http://127.0.0.1:$p" --listen-metrics-urls "http://127.0.0.1:$m" \
        >"$D/log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    until_ok 100 sh -c "curl -fs http://127.0.0.1:$c/health | grep -q '\"health\":\"true\"'" || return 1
    T=$(dt "$t")
    ETCDCTL_API=3 "$1/etcdctl" --endpoints="127.0.0.1:$c" put brs-smoke ok >/dev/null || return 1
    [ "$(ETCDCTL_API=3 "$1/etcdctl" --endpoints="127.0.0.1:$c" get brs-smoke --print-value-only)" = ok ] || return 1
    v=$(curl -fs "http://127.0.0.1:$c/version")
    INFO="$v on 127.0.0.1:$c (pid $pid)"
    stop_pid "$pid"
}

# --- Azurite -------------------------------------------------------------------------
smoke_azurite() {
    local D=$W/azurite t pid code
    mkdir -p "$D"
    t=$(now)
    "$BRS_AZURITE_BLOB" --blobHost 127.0.0.1 --blobPort 17940 --location "$D" \
        --skipApiVersionCheck --disableTelemetry >"$D.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    # any HTTP answer means it is up (anonymous list is refused with 403)
    until_ok 150 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:17940/devstoreaccount1?comp=list')\" != 000 ]" || return 1
    T=$(dt "$t")
    code=$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:17940/devstoreaccount1?comp=list')
    INFO="Azurite $("$BRS_AZURITE_BLOB" --version 2>/dev/null) at $(sed -n 's/.*successfully listens on //p' "$D.log" | head -1) (HTTP $code, pid $pid)"
    stop_pid "$pid"
}

# --- Meilisearch ----------------------------------------------------------------------
smoke_meili() {
    local D=$W/meili t pid v
    mkdir -p "$D"
    t=$(now)
    "$BRS_MEILISEARCH_BINARY" --http-addr 127.0.0.1:17950 --db-path "$D/data" --dump-dir "$D/dumps" \
        --snapshot-dir "$D/snapshots" --master-key 'brsSmokeMasterKey_0123456789' --no-analytics \
        --env development >"$D.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    until_ok 100 sh -c "curl -fs http://127.0.0.1:17950/health | grep -q available" || return 1
    T=$(dt "$t")
    v=$(curl -fs -H 'Authorization: Bearer brsSmokeMasterKey_0123456789' http://127.0.0.1:17950/version |
        sed -n 's/.*"pkgVersion":"\([^"]*\)".*/\1/p')
    INFO="Meilisearch $v on 127.0.0.1:17950 (pid $pid)"
    stop_pid "$pid"
}

# --- Ceph RGW ---------------------------------------------------------------------------
smoke_ceph() {
    local t out ep
    CEPH_DIR=$W/ceph
    t=$(now)
    out=$("$BRS_CEPH_RGW_START" "$CEPH_DIR" 17960 2>"$W/ceph-start.log") || { tail -5 "$W/ceph-start.log" >&2; return 1; }
    T=$(dt "$t")
    ep=$(echo "$out" | sed -n 's/^CEPH_RGW_ENDPOINT=//p')
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$ep/")" = 200 ] || return 1
    INFO="radosgw at $ep, keys: $(echo "$out" | grep -c '_KEY=') printed"
    t=$(now)
    "$BRS_CEPH_RGW_STOP" "$CEPH_DIR" --purge 2>/dev/null || return 1
    INFO="$INFO; stopped in $(dt "$t")s"
    CEPH_DIR=""
}

run() {   # run NAME FUNC ARGS...
    local name=$1; shift
    T="" INFO=""
    if "$@"; then result "$name" 0 "$T" "$INFO"; else result "$name" 1 "" "${INFO:-start/check failed}"; fi
}

run postgres-15  smoke_pg
run redis        smoke_redis "$BRS_REDIS_SERVER" "$BRS_REDIS_CLI" 17910 redis
run valkey       smoke_redis "$BRS_VALKEY_SERVER" "$BRS_VALKEY_CLI" 17911 valkey
run etcd-3.4     smoke_etcd "$BRS_ETCD34_BINDIR" 17920 etcd34
run etcd-3.5     smoke_etcd "$BRS_ETCD35_BINDIR" 17925 etcd35
run azurite      smoke_azurite
run meilisearch  smoke_meili
if [ "$WITH_CEPH" = 1 ]; then
    if [ -n "${BRS_CEPH_RGW_START:-}" ]; then run ceph-rgw smoke_ceph
    else result ceph-rgw 1 "" "not installed (BRS_WITH_CEPH=1 scripts/install-test-servers.sh)"; fi
fi

printf '%s\n' "${RESULTS[@]}"
echo "smoke: $ok ok, $failed failed"
[ "$failed" = 0 ]
