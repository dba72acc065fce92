"""Two qwenvl replicas behind nginx: failover on a killed replica and a graceful drain (run by test-nginx.sh)."""
import concurrent.futures
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

BIN = os.environ["QWENVL_BIN"]
MODEL = os.environ["QWENVL_MODEL"]
WORK = os.environ["QWENVL_WORK"]
PORTS = {"a": int(os.environ["QWENVL_PORT_A"]), "b": int(os.environ["QWENVL_PORT_B"])}
NGINX = f"http://127.0.0.1:{os.environ['QWENVL_PORT_NGINX']}"
# Long enough that the requests are still running when a replica is killed (ignore_eos: exactly this many tokens).
TOKENS = 1500

replicas = {}


def start(name):
    log = open(os.path.join(WORK, f"replica-{name}.log"), "w")
    proc = subprocess.Popen([BIN, "serve", "--model", MODEL, "--host", "127.0.0.1", "--port", str(PORTS[name]),
                             "--drain-timeout", "60"], stdout=log, stderr=subprocess.STDOUT)
    with open(os.path.join(WORK, f"replica-{name}.pid"), "w") as f:
        f.write(str(proc.pid))
    replicas[name] = proc
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if health(name)[0] == 200:
                return proc
        except OSError:
            pass
        assert proc.poll() is None, f"replica {name} exited"
        time.sleep(0.1)
    raise AssertionError(f"replica {name} did not become healthy")


def health(name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORTS[name]}/health", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def chat(base, prompt, tokens=TOKENS):
    body = json.dumps({"model": "tiny-f32", "messages": [{"role": "user", "content": prompt}], "max_tokens": tokens,
                       "temperature": 0, "ignore_eos": True}).encode()
    req = urllib.request.Request(f"{base}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def wait_running(name, at_least=1, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = health(name)
        if body.get("running", 0) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"replica {name} never ran {at_least} requests")


def setup_module():
    start("a")
    start("b")


def teardown_module():
    for proc in replicas.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_replica_requests_are_retried_on_the_other():
    prompts = [f"Request number {i}: tell me a story." for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(chat, NGINX, p) for p in prompts]
        wait_running("a")
        replicas["a"].send_signal(signal.SIGKILL)
        replicas["a"].wait()
        results = [f.result() for f in futures]
    for (status, body), prompt in zip(results, prompts):
        assert status == 200, body
        assert body["usage"]["completion_tokens"] == TOKENS
        # The same answer replica B gives directly (greedy, deterministic).
        direct_status, direct = chat(f"http://127.0.0.1:{PORTS['b']}", prompt)
        assert direct_status == 200
        assert body["choices"][0]["message"]["content"] == direct["choices"][0]["message"]["content"]


def test_draining_replica_finishes_its_requests_and_exits():
    start("a")
    time.sleep(2.5)          # A is back; let its first requests settle before the burst
    # Both replicas up: a burst spreads over them (round robin); then B is told to stop.
    prompts = [f"Drain test {i}" for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        first = [pool.submit(chat, NGINX, p) for p in prompts]
        wait_running("b")
        replicas["b"].send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body = health("b")
        assert status == 503 and body["status"] == "draining", body
        direct_status, refused = chat(f"http://127.0.0.1:{PORTS['b']}", "too late", tokens=2)
        assert direct_status == 503, refused
        # New requests through nginx go to A (B's 503 is retried there).
        later = [pool.submit(chat, NGINX, f"After the drain {i}", 8) for i in range(6)]
        results = [f.result() for f in first + later]
    for status, body in results:
        assert status == 200, body
    assert replicas["b"].wait(timeout=60) == 0
