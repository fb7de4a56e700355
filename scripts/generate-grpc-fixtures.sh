#!/usr/bin/env bash
# Regenerates the statically generated (ts-proto) gRPC client used by the adapter's
# integration tests, from test/fixtures/grpc/*.proto. The output is committed, so tests
# never need protoc; run this after changing a .proto file.
#
# Needs protoc (3.x) on PATH and the ts-proto plugin from node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/grpc/generated
rm -rf "$out"
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,useExactTypes=false,env=node \
  -I test/fixtures/grpc \
  test/fixtures/grpc/orders.proto
echo "generated: $(cd "$out" && ls)"
