#!/usr/bin/env bash
# Formats (default) or lints (--lint) the Swift sources with the toolchain's swift-format and
# the committed .swift-format. Generated code is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
files=$(find Sources Tests ClientSDK Benchmarks Package.swift -name '*.swift' -not -path '*/Generated/*' 2>/dev/null)
if [ "${1:-}" = "--lint" ]; then
    swift format lint --strict --configuration .swift-format $files
else
    swift format format --in-place --configuration .swift-format $files
fi
