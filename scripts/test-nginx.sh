#!/usr/bin/env bash
# Scale-out test: two `qwenvl serve` replicas behind nginx (Debian's package) on loopback.
#
# 1. Failover: eight long non-streamed requests go through nginx; once replica A is generating, it is killed
#    (SIGKILL); nginx retries its requests on replica B (`proxy_next_upstream error ... non_idempotent`) and every
#    client request still completes with the answer B gives directly.
# 2. Drain: A is restarted; while requests run, B gets SIGTERM: its /health turns 503 "draining", its running
#    requests finish, new ones it refuses with 503 are retried by nginx on A, and B exits 0.
# The nginx configuration used is docs/deploy/nginx.conf with the ports filled in.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${QWENVL_SCRATCH:-$ROOT/.build}
VENV=${QWENVL_TEST_VENV:-$ROOT/.build/test-server-venv}
MODEL=$ROOT/Tests/Fixtures/tiny-f32
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found (scripts/install-deps.sh installs nginx-light)" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import openai, pytest" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check openai pytest
fi
swift build --scratch-path "$SCRATCH" --product qwenvl
BIN=$(swift build --scratch-path "$SCRATCH" --show-bin-path)/qwenvl

WORK=$(mktemp -d)
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    for f in "$WORK"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT_A=$(free_port); PORT_B=$(free_port); PORT_N=$(free_port)
mkdir -p "$WORK/nginx-tmp"
sed -e "s|@PORT_A@|$PORT_A|g; s|@PORT_B@|$PORT_B|g; s|@PORT@|$PORT_N|g; s|@WORK@|$WORK|g" docs/deploy/nginx.conf > "$WORK/nginx.conf"
"$NGINX" -t -c "$WORK/nginx.conf" -p "$WORK" 2>"$WORK/nginx-test.log" || { cat "$WORK/nginx-test.log" >&2; exit 1; }
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"

status=0
QWENVL_BIN=$BIN QWENVL_MODEL=$MODEL QWENVL_WORK=$WORK QWENVL_PORT_A=$PORT_A QWENVL_PORT_B=$PORT_B QWENVL_PORT_NGINX=$PORT_N \
    timeout 600 "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_nginx.py || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- logs ---" >&2
    tail -n 30 "$WORK"/*.log >&2 || true
fi
exit "$status"
