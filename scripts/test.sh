#!/usr/bin/env bash
# Installs what is needed, builds and runs the whole test suite (parity against HF transformers fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/qwenvl-test.log
