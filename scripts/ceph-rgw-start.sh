#!/usr/bin/env bash
# Start a throwaway single-node Ceph cluster with an S3 gateway:
#   ceph-mon + ceph-osd (memstore, RAM only) [+ ceph-mgr] + radosgw on 127.0.0.1:PORT
#
# usage: ceph-rgw-start.sh DIR PORT
#   DIR   empty/new directory for config, data, logs, pid files (keep its path
#         short: admin sockets live in DIR/run and Unix socket paths max ~100 chars)
#   PORT  S3 port. The mon uses PORT+1 (msgr2) and PORT+2 (msgr1); the other
#         daemons bind in PORT+10..PORT+49. Keep all of it inside your port range.
# env:
#   BRS_CEPH_WITH_MGR=1        also start ceph-mgr (~300 MB RSS; only needed for `ceph -s` stats)
#   BRS_CEPH_ACCESS_KEY / BRS_CEPH_SECRET_KEY   fixed keys instead of random ones
#   BRS_CEPH_TIMEOUT=120       seconds to wait for everything to come up
#
# stdout: KEY=value lines only (also written to DIR/rgw.env):
#   CEPH_RGW_ENDPOINT CEPH_RGW_ACCESS_KEY CEPH_RGW_SECRET_KEY CEPH_RGW_REGION CEPH_CONF CEPH_RGW_DIR
# Progress and errors go to stderr. On failure everything started is stopped.
# Stop with: ceph-rgw-stop.sh DIR
# Auth is 'none' and data lives in memory: for tests only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

[ $# -eq 2 ] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
D=$(mkdir -p "$1" && cd "$1" && pwd)
PORT=$2
case $PORT in ''|*[!0-9]*) echo "PORT must be a number" >&2; exit 2;; esac
if [ "$PORT" -lt 1024 ] || [ $((PORT + 49)) -gt 65535 ]; then echo "PORT out of range" >&2; exit 2; fi
MON2=$((PORT + 1)) MON1=$((PORT + 2)) MSMIN=$((PORT + 10)) MSMAX=$((PORT + 49))
TIMEOUT=${BRS_CEPH_TIMEOUT:-120}

log() { printf '[ceph-rgw %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$b" >/dev/null || { log "missing $b: run BRS_WITH_CEPH=1 scripts/install-test-servers.sh"; exit 1; }
done
if [ -n "$(ls -A "$D")" ] && [ ! -e "$D/.brs-ceph" ]; then
    log "$D is not empty and was not made by this script; refusing to use it"; exit 1
fi
for f in "$D"/run/*.pid; do
    [ -e "$f" ] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then log "a cluster is still running in $D (run ceph-rgw-stop.sh first)"; exit 1; fi
done
port_listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END{exit !f}' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
for p in "$PORT" "$MON2" "$MON1"; do
    if port_listening "$p"; then log "port $p is already in use"; exit 1; fi
done
[ ${#D} -le 80 ] || log "WARNING: DIR path is long (${#D} chars); admin sockets may fail"

rm -rf "${D:?}"/{run,log,mon.a,osd.0,mgr.x,rgw,ceph.conf,keyring,monmap,rgw.env}
mkdir -p "$D"/{run,log,mon.a,osd.0,mgr.x,rgw}
touch "$D/.brs-ceph"

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
fail() {
    log "FAILED: $*"
    local f
    for f in "$D"/log/*.log; do [ -e "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
    "$HERE/ceph-rgw-stop.sh" "$D" >&2 || true
    exit 1
}
alive() { [ -s "$D/run/$1.pid" ] && kill -0 "$(cat "$D/run/$1.pid")" 2>/dev/null; }
wait_for() {   # wait_for WHAT DAEMON CMD...   polls CMD until it succeeds; fails if DAEMON died or TIMEOUT
    local what=$1 daemon=$2; shift 2
    local end=$(( $(date +%s) + TIMEOUT )) n=0
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "timeout waiting for $what"
        # pid files appear a moment after the daemon forks: allow a few polls
        n=$((n + 1)); [ "$n" -lt 10 ] || alive "$daemon" || fail "$daemon died while waiting for $what"
        sleep 0.3
    done
}

FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $MSMIN
ms bind port max = $MSMAX
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
keyring = $D/keyring
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 460
osd max object namespace len = 64
mon data avail warn = 2
mon data avail crit = 1
[mon.a]
mon data = $D/mon.a
[osd.0]
osd data = $D/osd.0
[mgr.x]
mgr data = $D/mgr.x
EOF
C=(-c "$D/ceph.conf")
CEPH=(timeout 30 ceph "${C[@]}" --connect-timeout 10)

# mon
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >&2
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >&2
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON2,v1:127.0.0.1:$MON1]" "$D/monmap" >&2
ceph-mon "${C[@]}" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >"$D/log/mon-mkfs.log" 2>&1 || fail "ceph-mon --mkfs"
ceph-mon "${C[@]}" -i a >&2 || fail "ceph-mon start"
wait_for "mon" mon.a "${CEPH[@]}" mon stat
log "mon up ($(elapsed)s)"

# osd (memstore)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$("${CEPH[@]}" osd new "$OSD_UUID") || fail "ceph osd new"
[ "$OSD_ID" = 0 ] || fail "expected osd id 0, got '$OSD_ID'"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.log" 2>&1 || fail "ceph-osd --mkfs"
ceph-osd "${C[@]}" -i 0 >&2 || fail "ceph-osd start"
osd_up() { "${CEPH[@]}" osd stat 2>/dev/null | grep -Eq '1 up'; }
wait_for "osd up" osd.0 osd_up
log "osd up ($(elapsed)s)"

if [ "${BRS_CEPH_WITH_MGR:-0}" = 1 ]; then
    ceph-mgr "${C[@]}" -i x >&2 || fail "ceph-mgr start"
    log "mgr started"
fi

# radosgw (crc modes are required with auth none, or it hangs fetching the mon config)
radosgw "${C[@]}" -n client.admin --rgw-frontends "beast endpoint=127.0.0.1:$PORT" \
    --rgw-data "$D/rgw" --log-file "$D/log/rgw.log" --pid-file "$D/run/rgw.pid" \
    --rgw-dns-name localhost --ms-mon-client-mode crc --ms-client-mode crc >&2 || fail "radosgw start"
rgw_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 200 ]; }
wait_for "radosgw on 127.0.0.1:$PORT" rgw rgw_up
log "radosgw up ($(elapsed)s)"

# S3 user
rnd() { tr -dc "$1" < /dev/urandom | head -c "$2" || true; }
AK=${BRS_CEPH_ACCESS_KEY:-$(rnd 'A-Z0-9' 20)}
SK=${BRS_CEPH_SECRET_KEY:-$(rnd 'A-Za-z0-9' 40)}
timeout 60 radosgw-admin "${C[@]}" -n client.admin --ms-mon-client-mode crc --ms-client-mode crc \
    user create --uid=brs-test --display-name=brs-test --access-key="$AK" --secret-key="$SK" \
    > "$D/log/user-create.json" 2>>"$D/log/radosgw-admin.log" || fail "radosgw-admin user create"
log "S3 user created; cluster ready in $(elapsed)s"

{
    echo "CEPH_RGW_ENDPOINT=http://127.0.0.1:$PORT"
    echo "CEPH_RGW_ACCESS_KEY=$AK"
    echo "CEPH_RGW_SECRET_KEY=$SK"
    echo "CEPH_RGW_REGION=default"
    echo "CEPH_CONF=$D/ceph.conf"
    echo "CEPH_RGW_DIR=$D"
} | tee "$D/rgw.env"
