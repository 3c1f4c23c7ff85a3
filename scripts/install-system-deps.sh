#!/usr/bin/env bash
# Install the Debian packages the brs test suite needs (Debian 12, as root):
#   postgresql-15 + client, redis-server, etcd 3.4 (server+client), lz4, zstd,
#   openssl, tar, curl, ca-certificates, strace, nodejs+npm (only if node is missing),
#   valkey-server 8 from bookworm-backports.
# No service is left running: a temporary policy-rc.d blocks starts during the
# install, and default services are stopped afterwards.
# Idempotent: when everything is present it does no apt work at all
# (BRS_FORCE_APT=1 forces apt-get update + install anyway).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-install.sh
. "$HERE/lib-install.sh"
require_root
trap services_guard_off EXIT

PKGS=(postgresql-15 postgresql-client-15 redis-server redis-tools etcd-server etcd-client
      lz4 zstd openssl tar curl ca-certificates strace)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm  >/dev/null 2>&1 || PKGS+=(npm)

CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
BPO_SUITE="${CODENAME}-backports"

valkey_ok() {
    command -v valkey-server >/dev/null 2>&1 &&
        valkey-server --version 2>/dev/null | grep -Eq 'v=(8|9)\.'
}

# --- what is missing? ---------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
valkey_ok || missing+=(valkey-server)

T0=$(date +%s)
if [ "${#missing[@]}" -eq 0 ] && [ "${BRS_FORCE_APT:-0}" != 1 ]; then
    log "all system packages present, nothing to install"
else
    log "to install: ${missing[*]}"

    # bookworm-backports (for valkey-server 8), same mirror and key as the main archive
    step_start "enable $BPO_SUITE"
    if [ "$CODENAME" = bookworm ] &&
       ! grep -rqs -- "$BPO_SUITE" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        MIRROR=$(debian_mirror)
        {
            echo "# added by brs scripts/install-system-deps.sh (valkey-server 8)"
            echo "Types: deb"
            echo "URIs: $MIRROR"
            echo "Suites: $BPO_SUITE"
            echo "Components: main"
            [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] &&
                echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
        } > /etc/apt/sources.list.d/brs-backports.sources
        log "wrote /etc/apt/sources.list.d/brs-backports.sources ($MIRROR $BPO_SUITE)"
    fi
    step_end ""

    step_start "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    step_end ""

    services_guard_on
    step_start "apt-get install"
    VALKEY=(valkey-server)
    if [ "$CODENAME" = bookworm ]; then
        # pkg/release picks the backports version for valkey only (and for the
        # deps that need it); everything else stays on bookworm.
        VALKEY=("valkey-server/$BPO_SUITE" "valkey-tools/$BPO_SUITE")
    fi
    apt_install "${PKGS[@]}" "${VALKEY[@]}"
    step_end ""
    services_guard_off
fi

step_start "stop default services"
stop_default_services
step_end ""

# --- check -------------------------------------------------------------------
fail=0
for p in "${PKGS[@]}"; do pkg_installed "$p" || { log "MISSING: $p"; fail=1; }; done
valkey_ok || { log "MISSING: valkey-server 8"; fail=1; }
[ -x /usr/lib/postgresql/15/bin/postgres ] || { log "MISSING: /usr/lib/postgresql/15/bin/postgres"; fail=1; }
[ "$fail" = 0 ] || die "system dependencies incomplete"

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
echo "system dependencies OK ($(( $(date +%s) - T0 ))s):"
printf '  %-22s %s\n' \
    postgresql-15 "$(ver postgresql-15)" \
    redis-server "$(ver redis-server)" \
    valkey-server "$(valkey-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
    etcd-server "$(ver etcd-server)" \
    node "$(node --version 2>/dev/null || echo '?')" \
    npm "$(npm --version 2>/dev/null || echo '?')" \
    lz4 "$(ver lz4)" zstd "$(ver zstd)" openssl "$(ver openssl)"
if [ "${#BRS_STEP_TIMES[@]}" -gt 0 ]; then echo "step times:"; print_step_times; fi
