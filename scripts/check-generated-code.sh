#!/usr/bin/env bash
# Fails if Sources/ClassyAPI/Generated is not what scripts/generate-protos.sh makes of Protos/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/generate-protos.sh" "$tmp/Generated"
if ! diff -ru "$tmp/Generated" "$root/Sources/ClassyAPI/Generated"; then
    echo "generated code is stale: run scripts/generate-protos.sh and commit the result" >&2
    exit 1
fi
echo "generated code is current" >&2
