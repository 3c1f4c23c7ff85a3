#!/bin/sh
# Runs inside an image build (see the Containerfiles next to it): installs brs and the given
# distributions from the wheels in /tmp/brs-wheels (built from the repository with `make wheels`)
# into a venv at /opt/brs, never from a package index, and links /usr/local/bin/brs.
#
#   install-brs.sh [--bundle] DISTRIBUTION...
#
# --bundle makes /opt/brs self-contained for the provisioning image: the interpreter, its
# standard library and every shared library they and the installed wheels need (except glibc's
# own) are copied to /opt/brs/python, and the interpreter finds those libraries through its
# RPATH. Such a bundle runs from /opt/brs in any image with a glibc as new as the build
# image's, whatever Python that image has, or none.
#
# Needs python3 with venv (Debian's python3-venv). When they are missing, it installs them with
# apt-get, which needs the network; a base that has them (the tests' base) never calls apt.
set -eu
WHEELS=/tmp/brs-wheels
PREFIX=/opt/brs
bundle=0
if [ "${1:-}" = --bundle ]; then bundle=1; shift; fi
[ "$#" -gt 0 ] || { echo "usage: install-brs.sh [--bundle] DISTRIBUTION..." >&2; exit 2; }

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv
    rm -rf /var/lib/apt/lists/*
fi
if [ "$bundle" = 1 ] && ! command -v patchelf >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends patchelf
    rm -rf /var/lib/apt/lists/*
fi

python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install --quiet --no-cache-dir --no-index --find-links "$WHEELS" brs "$@"
"$PREFIX/bin/pip" uninstall --quiet --yes pip
"$PREFIX/bin/brs" plugins list >/dev/null

if [ "$bundle" = 1 ]; then
    python=$(readlink -f "$(command -v python3)")
    version=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
    home=$PREFIX/python
    mkdir -p "$home/bin" "$home/lib"
    cp "$python" "$home/bin/python$version"
    # The standard library without its tests and the tools a sidecar never runs.
    tar -C "$(dirname "$stdlib")" --exclude="python$version/test" --exclude="python$version/idlelib" \
        --exclude="python$version/tkinter" --exclude="python$version/turtledemo" -cf - "python$version" |
        tar -C "$home/lib" -xf -
    for link in python python3 "python$version"; do ln -sfn "$home/bin/python$version" "$PREFIX/bin/$link"; done
    sed -i "s|^home = .*|home = $home/bin|" "$PREFIX/pyvenv.cfg"
    # Shared libraries the interpreter, the extension modules and the wheels need, except the C
    # library itself (the target image's glibc serves those) and what the wheels bundle.
    find "$home/bin" "$home/lib" "$PREFIX/lib" -type f \( -name '*.so' -o -name '*.so.*' -o -name "python$version" \) |
        while read -r object; do ldd "$object" 2>/dev/null || true; done |
        awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
        grep -Ev '/(ld-linux[^/]*|libc|libm|libmvec|libpthread|libdl|librt|libutil|libresolv|libanl|libnsl|libBrokenLocale|libnss_[^/]*)\.so' |
        grep -Ev "^$PREFIX/" |
        while read -r library; do cp -L "$library" "$home/lib/"; done
    # DT_RPATH (not RUNPATH) on the executable also serves the libraries dlopen'ed modules need.
    patchelf --force-rpath --set-rpath '$ORIGIN/../lib' "$home/bin/python$version"
    # The bundle must not reach back into the build image.
    "$PREFIX/bin/python" -c 'import sys; assert sys.base_prefix == "'"$home"'", sys.base_prefix'
    "$PREFIX/bin/brs" plugins list >/dev/null
fi
ln -sfn "$PREFIX/bin/brs" /usr/local/bin/brs
