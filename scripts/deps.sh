#!/usr/bin/env bash
# Installs what Mandate needs to build, test and benchmark, when it is missing:
# Debian packages, then the npm packages of the integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config
      libmicrohttpd-dev libgnutls28-dev libssl-dev libjansson-dev libsqlite3-dev libpq-dev
      libcurl4-openssl-dev libargon2-dev libinih-dev libcmocka-dev
      nodejs npm openssl sqlite3 wrk curl jq procps
      postgresql  # the throw-away clusters of the tests (scripts/pg.sh)
      chromium    # the browser of the integration tests (playwright-core drives it)
      nginx-light # the reverse proxy of examples/nginx in front of /forward-auth (tests start it)
      clang libclang-rt-14-dev)  # libFuzzer: the bounded fuzzing of `make check`

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node and npm may come from elsewhere than Debian; accept any node >= 20 on PATH
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    filtered=()
    for p in "${missing[@]}"; do
        [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f tests/integration/package-lock.json ]; then
    stamp=tests/integration/node_modules/.deps-stamp
    if [ ! -f "$stamp" ] || [ tests/integration/package-lock.json -nt "$stamp" ]; then
        echo "deps: npm ci in tests/integration"
        (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error) && touch "$stamp"
    fi
fi
