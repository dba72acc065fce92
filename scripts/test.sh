#!/usr/bin/env bash
# Installs what is needed, builds and runs the whole test suite (parity against HF transformers fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
# The OpenAI-compatible server over real HTTP on loopback, with the official openai Python client.
bash scripts/test-server.sh
# The chat web page in headless Chromium (Selenium), against a real `qwenvl serve`.
bash scripts/test-webui.sh
