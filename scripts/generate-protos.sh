#!/usr/bin/env bash
# Regenerates the Swift code of Protos/ into Sources/ClassyAPI/Generated (or into $1).
#
# Installs protoc (Debian protobuf-compiler) if missing, builds protoc-gen-swift and
# protoc-gen-grpc-swift-2 once in a scratch clone outside the repository (cached in
# $CLASSY_PLUGIN_DIR, default /tmp/classy-protoc-plugins), then runs protoc.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/Sources/ClassyAPI/Generated"}
plugin_dir=${CLASSY_PLUGIN_DIR:-/tmp/classy-protoc-plugins}
mirrors=${CLASSY_SWIFT_MIRRORS:-/opt/swift-packages}
grpc_protobuf_version=2.4.1

if ! command -v protoc >/dev/null 2>&1; then
    echo "installing protobuf-compiler" >&2
    apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
fi

bin="$plugin_dir/src/.build/release"
if [ ! -x "$bin/protoc-gen-swift" ] || [ ! -x "$bin/protoc-gen-grpc-swift-2" ]; then
    echo "building protoc plugins in $plugin_dir (once)" >&2
    rm -rf "$plugin_dir" && mkdir -p "$plugin_dir"
    source_url="https://github.com/grpc/grpc-swift-protobuf.git"
    [ -d "$mirrors/grpc/grpc-swift-protobuf.git" ] && source_url="$mirrors/grpc/grpc-swift-protobuf.git"
    git clone -q "$source_url" "$plugin_dir/src"
    git -C "$plugin_dir/src" checkout -q "$grpc_protobuf_version"
    (cd "$plugin_dir/src" \
        && swift build -c release --product protoc-gen-grpc-swift-2 >&2 \
        && swift build -c release --product protoc-gen-swift >&2)
fi

mkdir -p "$out"
rm -f "$out"/*.pb.swift "$out"/*.grpc.swift
cd "$root"
protoc --proto_path=Protos \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
    --grpc-swift-2_out="$out" \
    --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores \
    $(find Protos -name '*.proto' | sort)
echo "generated $(ls "$out" | wc -l) files in $out" >&2
