#!/usr/bin/env bash
# Real-HTTP tests of `qwenvl serve` with the official openai Python client, on loopback only.
#
# Creates a venv under .build/ (ignored; override with QWENVL_TEST_VENV), installs openai + pytest, builds the CLI
# (debug; override the scratch path with QWENVL_SCRATCH), starts two servers on the fixture checkpoint on free
# loopback ports (port 0; the bound port is read from the server's log line), waits for /health, runs
# scripts/test_server.py, and always stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${QWENVL_SCRATCH:-$ROOT/.build}
VENV=${QWENVL_TEST_VENV:-$ROOT/.build/test-server-venv}
MODEL=$ROOT/Tests/Fixtures/tiny-f32

if ! "$VENV/bin/python" -c "import openai, pytest, jsonschema" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check openai pytest jsonschema
fi

swift build --scratch-path "$SCRATCH" --product qwenvl
BIN=$(swift build --scratch-path "$SCRATCH" --show-bin-path)/qwenvl

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    # SIGTERM lets a server finish in-flight requests; after 10 s it is killed.
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The allowed media folder, a file beside it, and a symlink escaping from it.
mkdir -p "$WORK/media/allowed"
cp Tests/Fixtures/images/icon.png "$WORK/media/allowed/icon.png"
cp Tests/Fixtures/images/icon.png "$WORK/media/secret.png"
ln -s "$WORK/media/secret.png" "$WORK/media/allowed/escape.png"

# start_server LOG ARGS...: starts `qwenvl serve` on port 0, waits for its port and /health, prints the base URL.
start_server() {
    local log=$1; shift
    "$BIN" serve --model "$MODEL" --host 127.0.0.1 --port 0 "$@" >"$log" 2>&1 &
    PIDS+=($!)
    local port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -n1)
        [ -n "$port" ] && break
        kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "server exited:" >&2; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server did not report a port in 60 s:" >&2; cat "$log" >&2; return 1; }
    for _ in $(seq 1 100); do
        curl -sf --max-time 2 "http://127.0.0.1:$port/health" >/dev/null && { echo "http://127.0.0.1:$port"; return 0; }
        sleep 0.1
    done
    echo "no /health answer on port $port" >&2
    return 1
}

# PIDS is extended inside start_server, so call it without a subshell and read the URL from a file.
start_server "$WORK/plain.log" --max-body-bytes 1048576 >"$WORK/plain.url"
start_server "$WORK/media.log" --allow-local-media "$WORK/media/allowed" >"$WORK/media.url"

status=0
QWENVL_BIN=$BIN QWENVL_MODEL=$MODEL QWENVL_URL=$(cat "$WORK/plain.url") QWENVL_MEDIA_URL=$(cat "$WORK/media.url") \
QWENVL_MEDIA_DIR="$WORK/media/allowed" timeout 1800 "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_server.py \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server logs ---" >&2
    tail -n 50 "$WORK/plain.log" "$WORK/media.log" >&2
fi
exit "$status"
