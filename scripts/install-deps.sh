#!/usr/bin/env bash
# Installs the Debian packages Classy Book needs to build and test, if any are missing.
set -euo pipefail
# postgresql: the throwaway servers of the PostgreSQL store, replica and fault tests (/usr/lib/postgresql/15/bin);
# nginx: the load-balancer example's test (deploy/nginx).
packages=(libargon2-dev libsqlite3-dev pkg-config protobuf-compiler openssl postgresql nginx)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
