#!/usr/bin/env bash
# Browser tests of the chat page served by `qwenvl serve`: headless Chromium (Debian's chromium + chromium-driver)
# driven by Selenium from PyPI, on loopback only.
#
# Installs chromium/chromium-driver through apt when missing, creates a venv under .build/ (override with
# QWENVL_WEBUI_VENV) with selenium + pytest, builds the CLI (debug; override the scratch path with QWENVL_SCRATCH),
# starts `qwenvl serve` on the fixture checkpoint twice (the page on, and --no-ui) on free loopback ports, runs
# scripts/test_webui.py, and always stops the servers.
# QWENVL_SCREENSHOTS=DIR also saves the page's screenshots there (docs/screenshots is where the README's come from).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${QWENVL_SCRATCH:-$ROOT/.build}
VENV=${QWENVL_WEBUI_VENV:-$ROOT/.build/test-webui-venv}
MODEL=$ROOT/Tests/Fixtures/tiny-f32

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! "$VENV/bin/python" -c "import selenium, pytest" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check selenium pytest
fi

swift build --scratch-path "$SCRATCH" --product qwenvl
BIN=$(swift build --scratch-path "$SCRATCH" --show-bin-path)/qwenvl

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

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

start_server "$WORK/ui.log" >"$WORK/ui.url"
start_server "$WORK/noui.log" --no-ui >"$WORK/noui.url"

status=0
QWENVL_BIN=$BIN QWENVL_MODEL=$MODEL QWENVL_URL=$(cat "$WORK/ui.url") QWENVL_NOUI_URL=$(cat "$WORK/noui.url") \
    timeout 900 "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_webui.py || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server logs ---" >&2
    tail -n 50 "$WORK/ui.log" "$WORK/noui.log" >&2
fi
exit "$status"
