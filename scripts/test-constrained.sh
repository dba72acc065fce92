#!/usr/bin/env bash
# The constrained-decoding property test at full size, validated with Python's jsonschema.
#
# Builds the tests in release (scratch path .build/release-tests; override with QWENVL_RELEASE_SCRATCH), decodes all
# 240 schemas of Tests/Fixtures/reference/random_schemas.json with tiny-f32 and tiny-bf16, greedy and sampled
# (QWENVL_CONSTRAINED_SCHEMAS=all: 960 outputs, also checked by the Swift validator), then runs
# scripts/validate_constrained.py over .build/constrained-outputs.jsonl. scripts/test.sh validates the debug
# suite's 12-output sample the same way; this script is the full run (a release build takes a while).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${QWENVL_RELEASE_SCRATCH:-$ROOT/.build/release-tests}
VENV=${QWENVL_CONSTRAINED_VENV:-$ROOT/.build/constrained-venv}
if ! "$VENV/bin/python" -c "import jsonschema" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check jsonschema
fi
swift build -c release --build-tests -Xswiftc -enable-testing --scratch-path "$SCRATCH"
QWENVL_CONSTRAINED_SCHEMAS=all swift test -c release --skip-build -Xswiftc -enable-testing --scratch-path "$SCRATCH" \
    --filter ConstrainedDecodingTests/testRandomSchemasDecodeToValidJSON
"$VENV/bin/python" scripts/validate_constrained.py "$ROOT/.build/constrained-outputs.jsonl" --min-outputs 960
