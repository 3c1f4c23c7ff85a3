#!/usr/bin/env bash
# Install what the pod tests need to run real containers (Debian 12, as root):
#   podman, buildah, runc (podman runs containers with it), mmdebstrap (base images from apt)
# and write a private podman configuration under $BRS_PODS_ROOT (default /var/lib/brs-test/podman):
#   containers.conf  runc + cgroupfs, ulimits below the hard limits, netns "none"
#   storage.conf     overlay storage in $BRS_PODS_ROOT/storage (runroot in $BRS_PODS_ROOT/run)
# Nothing system-wide is configured: callers export
#   CONTAINERS_CONF=$BRS_PODS_ROOT/containers.conf CONTAINERS_STORAGE_CONF=$BRS_PODS_ROOT/storage.conf
# (scripts/test-servers.env does) and pass --network none to every podman/buildah command.
# Idempotent: with the packages present it only rewrites the two files.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-install.sh
. "$HERE/lib-install.sh"
require_root

PODS_ROOT=${BRS_PODS_ROOT:-/var/lib/brs-test/podman}
# catatonit: podman builds the pods' pause (infra) image from it locally, no registry needed.
PKGS=(podman buildah runc mmdebstrap uidmap catatonit)

missing=()
for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
    step_start "apt-get install ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt_install "${missing[@]}"
    step_end ""
fi

# podman's default limits ask for more than the hard limits of this kind of machine.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -gt 20000 ] && nofile=20000
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] && nproc=32768
[ "$nproc" -gt 32768 ] && nproc=32768

mkdir -p "$PODS_ROOT/storage" "$PODS_ROOT/run"
cat > "$PODS_ROOT/containers.conf.new" <<EOF
# written by brs scripts/install-container-tools.sh; used through CONTAINERS_CONF only
[containers]
# Never a bridge: containers of one pod still share the pod's own loopback.
netns = "none"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
# crun refuses this kernel's hybrid cgroup layout; runc with cgroupfs works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat > "$PODS_ROOT/storage.conf.new" <<EOF
# written by brs scripts/install-container-tools.sh; used through CONTAINERS_STORAGE_CONF only
[storage]
driver = "overlay"
graphroot = "$PODS_ROOT/storage"
runroot = "$PODS_ROOT/run"
EOF
mv -f "$PODS_ROOT/containers.conf.new" "$PODS_ROOT/containers.conf"
mv -f "$PODS_ROOT/storage.conf.new" "$PODS_ROOT/storage.conf"

export CONTAINERS_CONF=$PODS_ROOT/containers.conf CONTAINERS_STORAGE_CONF=$PODS_ROOT/storage.conf
podman --version >/dev/null || die "podman does not run"
log "container tools OK: $(podman --version), $(runc --version | head -1), $(mmdebstrap --version)"
log "configuration: $CONTAINERS_CONF $CONTAINERS_STORAGE_CONF"
if [ "${#BRS_STEP_TIMES[@]}" -gt 0 ]; then echo "step times:"; print_step_times; fi
