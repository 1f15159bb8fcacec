#!/usr/bin/env bash
# Installs what tests/tests/clients.rs runs: a Python virtualenv with the
# pinned drivers of python/requirements.txt, node-postgres from
# node/package-lock.json, and Java with Debian's pgJDBC. Idempotent: a
# second run with nothing changed installs nothing.
set -euo pipefail

cd "$(dirname "$0")"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Debian packages for the runtimes that are missing.
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Python drivers, reinstalled only when requirements.txt changes.
stamp=python/.venv/requirements.sha256
want=$(sha256sum python/requirements.txt | cut -d' ' -f1)
if [ ! -x python/.venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "creating python/.venv"
    rm -rf python/.venv
    python3 -m venv python/.venv
    python/.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements.txt
    echo "$want" >"$stamp"
fi

# node-postgres, reinstalled only when package-lock.json changes.
stamp=node/node_modules/.lock.sha256
want=$(sha256sum node/package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "npm ci in node/"
    (cd node && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
