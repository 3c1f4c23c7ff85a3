# shellcheck shell=bash
# Helpers shared by install-system-deps.sh and install-test-servers.sh.
# Source it; do not execute it.

BRS_TEST_ROOT=${BRS_TEST_ROOT:-/opt/brs-test}

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }

# step_start NAME / step_end: time a step and remember it for the summary.
declare -a BRS_STEP_TIMES=()
_brs_step_name="" _brs_step_t0=0
step_start() { _brs_step_name=$1; _brs_step_t0=$(date +%s.%N); log "== $1"; }
step_end() {
    local t1 dt
    t1=$(date +%s.%N)
    dt=$(awk -v a="$_brs_step_t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    BRS_STEP_TIMES+=("$(printf '%-34s %7ss %s' "$_brs_step_name" "$dt" "${1:-}")")
    log "   done in ${dt}s ${1:-}"
}
print_step_times() {
    local l
    for l in "${BRS_STEP_TIMES[@]}"; do printf '  %s\n' "$l"; done
}

require_root() { [ "$(id -u)" -eq 0 ] || die "run as root"; }

# The Debian mirror apt is already configured with (never hard-coded).
# Override with BRS_DEBIAN_MIRROR.
debian_mirror() {
    if [ -n "${BRS_DEBIAN_MIRROR:-}" ]; then echo "${BRS_DEBIAN_MIRROR%/}"; return; fi
    local m="" f
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ]; then
        # any deb822 stanza whose suites are not -security
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -r "$f" ] || continue
            m=$(awk 'BEGIN{RS="";FS="\n"}
                     /Suites:[^\n]*(bookworm|trixie)/ && !/Suites:[^\n]*-security/ {
                       for(i=1;i<=NF;i++) if ($i ~ /^URIs:/) { split($i,a,/[ \t]+/); print a[2]; exit } }' "$f")
            [ -n "$m" ] && break
        done
    fi
    if [ -z "$m" ]; then
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1=="deb" && $0 !~ /security/ { for(i=2;i<=NF;i++) if ($i ~ /^https?:\/\//) { print $i; exit } }')
    fi
    [ -n "$m" ] || die "cannot find the Debian mirror in /etc/apt (set BRS_DEBIAN_MIRROR)"
    echo "${m%/}"
}

pkg_installed() {   # pkg_installed NAME -> 0 if dpkg says installed
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# --- keep apt from starting services on default ports -----------------------
# A policy-rc.d that exits 101 makes invoke-rc.d and deb-systemd-invoke skip
# every start. If the host already has one it is kept aside and put back.
# Callers must run services_guard_off from their EXIT trap (it is a no-op when
# the guard is not on).
_BRS_POLICY=/usr/sbin/policy-rc.d
services_guard_on() {
    if [ -e "$_BRS_POLICY.brs-saved" ] || [ -e "$_BRS_POLICY.brs-none" ]; then
        : # a previous run died before restoring: keep its saved state
    elif [ -e "$_BRS_POLICY" ]; then
        cp -p "$_BRS_POLICY" "$_BRS_POLICY.brs-saved"
    else
        : > "$_BRS_POLICY.brs-none"
    fi
    printf '#!/bin/sh\n# written by brs scripts/lib-install.sh during apt-get install\nexit 101\n' > "$_BRS_POLICY"
    chmod 755 "$_BRS_POLICY"
}
services_guard_off() {
    if [ -e "$_BRS_POLICY.brs-saved" ]; then
        mv -f "$_BRS_POLICY.brs-saved" "$_BRS_POLICY"
    elif [ -e "$_BRS_POLICY.brs-none" ]; then
        rm -f "$_BRS_POLICY" "$_BRS_POLICY.brs-none"
    fi
}

apt_install() {     # apt_install PKG... (DEBIAN_FRONTEND etc. set here)
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        install -y --no-install-recommends "$@"
}

# Is anything listening on TCP PORT (any address)? Reads /proc, needs no tools.
port_listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v p="$hex" 'NR>1 && $4=="0A" && substr($2, length($2)-4)==p {f=1} END{exit !f}' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Stop (and on systemd hosts disable) default services the packages may have
# started. Set BRS_KEEP_SERVICES=1 to leave them alone.
stop_default_services() {
    [ "${BRS_KEEP_SERVICES:-0}" = 1 ] && return 0
    local u
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        for u in postgresql.service redis-server.service valkey-server.service etcd.service \
                 ceph.target ceph-mon.target ceph-osd.target ceph-mgr.target ceph-radosgw.target; do
            if systemctl list-unit-files "$u" >/dev/null 2>&1 &&
               systemctl list-unit-files "$u" 2>/dev/null | grep -q "^$u"; then
                systemctl disable --now "$u" >/dev/null 2>&1 || true
            fi
        done
    fi
    if command -v pg_lsclusters >/dev/null; then
        local ver name status
        while read -r ver name _ status _; do
            if [ "$status" = online ]; then
                log "stopping default PostgreSQL cluster $ver/$name"
                pg_ctlcluster "$ver" "$name" stop || true
            fi
        done < <(pg_lsclusters -h 2>/dev/null)
    fi
    for u in redis-server valkey-server etcd; do
        if [ -x "/etc/init.d/$u" ] && "/etc/init.d/$u" status >/dev/null 2>&1; then
            log "stopping default service $u"
            "/etc/init.d/$u" stop >/dev/null 2>&1 || true
        fi
    done
    local p bad=""
    for p in 5432 6379 2379 2380 6789 3300 7480; do
        port_listening "$p" && bad="$bad $p"
    done
    [ -z "$bad" ] || log "WARNING: something still listens on default port(s):$bad"
}
