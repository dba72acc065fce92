#!/usr/bin/env bash
# Installs what is needed, builds the release CLI and answers a prompt with the tiny checkpoint in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product qwenvl
bin=$(swift build -c release --show-bin-path)/qwenvl
echo "== qwenvl generate (tiny random checkpoint: the answer is gibberish, the pipeline is real) =="
"$bin" generate --model Tests/Fixtures/tiny-f32 --prompt "Describe the Qwen2-VL architecture in one sentence." --max-tokens 24 --temperature 0
echo "== same, as JSON =="
"$bin" generate --model Tests/Fixtures/tiny-f32 --prompt "Hello!" --max-tokens 8 --json
