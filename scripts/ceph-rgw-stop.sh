#!/usr/bin/env bash
# Stop a cluster started by ceph-rgw-start.sh, by the PIDs in DIR/run.
# usage: ceph-rgw-stop.sh DIR [--purge]     (--purge also deletes DIR)
# Order matters: radosgw ignores SIGTERM once the mon is gone, so it goes first.
# radosgw spends ~5 s in its lifecycle thread's sleep before exiting on SIGTERM;
# it keeps no state of its own (the data is in the OSD), so after 2 s it gets
# SIGKILL. The OSD (~1.5 s) and the mon (~2 s) get 10 s to exit cleanly.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [--purge]" >&2; exit 2; }
D=$1
[ -d "$D" ] || { echo "no such directory: $D" >&2; exit 0; }

log() { printf '[ceph-rgw-stop] %s\n' "$*" >&2; }

stop_pid() {   # stop_pid PIDFILE EXPECTED_COMM GRACE_TENTHS
    local f=$1 comm=$2 grace=$3 pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f"); local t0=$SECONDS
    case $pid in ''|*[!0-9]*) rm -f "$f"; return 0;; esac
    # only signal the process if the PID still belongs to the expected daemon
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]; then rm -f "$f"; return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$grace"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$comm ($pid) still running after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    kill -0 "$pid" 2>/dev/null && { log "could not stop $comm ($pid)"; return 1; }
    log "stopped $comm ($pid) in $((SECONDS - t0))s"
    rm -f "$f"
}

rc=0
stop_pid "$D/run/rgw.pid"   radosgw  20  || rc=1
stop_pid "$D/run/mgr.x.pid" ceph-mgr 100 || rc=1
stop_pid "$D/run/osd.0.pid" ceph-osd 100 || rc=1
stop_pid "$D/run/mon.a.pid" ceph-mon 100 || rc=1

if [ "$rc" = 0 ] && [ "${2:-}" = --purge ]; then
    [ -e "$D/.brs-ceph" ] && rm -rf "$D" && log "removed $D"
fi
exit "$rc"
