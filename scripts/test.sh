#!/usr/bin/env bash
# Installs what is needed, builds and runs the whole test suite (parity against HF transformers fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build
# LoRA adapters: the adapter and merged checkpoint AdapterTests wrote (.build/adapter-check) loaded by HF PEFT 0.17.1 and
# transformers 4.57.6 (the reference venv of scripts/fixtures/requirements.txt), logits against the fixtures.
"${QWENVL_REFERENCE_PYTHON:-/work/venv/bin/python}" scripts/check_adapters.py .build/adapter-check
# The OpenAI-compatible server over real HTTP on loopback, with the official openai Python client.
bash scripts/test-server.sh
# Two replicas behind nginx: a replica killed mid-run and a draining one, every client request still completes.
bash scripts/test-nginx.sh
# Constrained decoding: the property test's outputs (written by swift test above) validated with Python jsonschema.
VENV=${QWENVL_CONSTRAINED_VENV:-.build/constrained-venv}
"$VENV/bin/python" -c "import jsonschema" 2>/dev/null || { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet jsonschema; }
"$VENV/bin/python" scripts/validate_constrained.py .build/constrained-outputs.jsonl --min-outputs 12
# SFT shards (written by DatasetTests above) load in Python's safetensors as written.
"$VENV/bin/python" -c "import safetensors, numpy" 2>/dev/null || "$VENV/bin/pip" install --quiet safetensors numpy
"$VENV/bin/python" scripts/check_sft_shard.py .build/sft-shard-check
# The chat web page in headless Chromium (Selenium), against a real `qwenvl serve`.
bash scripts/test-webui.sh
