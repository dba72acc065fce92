"""Real-HTTP tests of `qwenvl serve` with the official `openai` client, on loopback.

Run through scripts/test-server.sh, which builds the CLI, starts two servers on the fixture checkpoint and sets:
  QWENVL_BIN          the qwenvl executable (for `qwenvl generate --json` references)
  QWENVL_MODEL        the checkpoint folder (Tests/Fixtures/tiny-f32)
  QWENVL_URL          base URL of a server without --allow-local-media, started with --max-body-bytes 1048576
  QWENVL_MEDIA_URL    base URL of a server started with --allow-local-media $QWENVL_MEDIA_DIR
  QWENVL_MEDIA_DIR    the allowed media folder (holds icon.png; its parent holds secret.png)
Every network call has a timeout and every wait loop a bound.
"""

import base64
import http.client
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "Tests" / "Fixtures" / "images"
BIN = os.environ["QWENVL_BIN"]
MODEL = os.environ["QWENVL_MODEL"]
URL = os.environ["QWENVL_URL"]
MEDIA_URL = os.environ["QWENVL_MEDIA_URL"]
MEDIA_DIR = Path(os.environ["QWENVL_MEDIA_DIR"])
MODEL_ID = Path(MODEL).name
TIMEOUT = 60


def client(base=URL):
    return openai.OpenAI(base_url=base + "/v1", api_key="unused", timeout=TIMEOUT, max_retries=0)


def data_url(name):
    mime = {"png": "png", "jpg": "jpeg", "webp": "webp", "gif": "gif"}[name.rsplit(".", 1)[1]]
    return f"data:image/{mime};base64," + base64.b64encode((IMAGES / name).read_bytes()).decode()


def image_messages(url, text="Describe this image."):
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]}]


def cli_generate(messages, max_tokens):
    """`qwenvl generate --json` on the same messages: the reference answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(messages, f)
        path = f.name
    try:
        out = subprocess.run([BIN, "generate", "--model", MODEL, "--messages", path, "--json", "--temperature", "0",
                              "--max-tokens", str(max_tokens)], capture_output=True, text=True, timeout=120, check=True)
    finally:
        os.unlink(path)
    return json.loads(out.stdout.strip().splitlines()[-1])


def metrics(base=URL):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def assert_error(excinfo, status, code=None, param=None):
    """The exception carries `status` and OpenAI's error JSON (message, type, param, code)."""
    error = excinfo.value
    assert error.status_code == status, error
    body = error.response.json()
    assert list(body["error"].keys()) == ["message", "type", "param", "code"], body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


def assert_still_serving(base=URL):
    answer = client(base).chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}],
                                                  max_tokens=2, temperature=0)
    assert answer.choices[0].finish_reason in ("stop", "length")


def test_models_and_health():
    assert [m.id for m in client().models.list().data] == [MODEL_ID]
    with urllib.request.urlopen(URL + "/health", timeout=10) as response:
        health = json.loads(response.read())
    # Ready, with the scheduler's counts: nothing runs or waits between tests.
    assert health == {"status": "ok", "running": 0, "waiting": 0}


def test_non_streaming_matches_cli():
    messages = image_messages(data_url("photo.jpg"))
    ref = cli_generate(messages, 12)
    answer = client().chat.completions.create(model=MODEL_ID, messages=messages, temperature=0, max_tokens=12,
                                              extra_body={"return_token_ids": True})
    choice = answer.choices[0]
    assert choice.token_ids == ref["token_ids"]
    assert answer.prompt_token_ids == ref["prompt_token_ids"]
    assert choice.message.content == ref["text"]
    assert choice.finish_reason == ref["finish_reason"]
    assert answer.usage.prompt_tokens == len(ref["prompt_token_ids"])
    assert answer.usage.completion_tokens == len(ref["token_ids"])
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_streaming_matches_cli():
    messages = image_messages(data_url("lossy.webp"), "What colours dominate?")
    ref = cli_generate(messages, 12)
    stream = client().chat.completions.create(model=MODEL_ID, messages=messages, temperature=0, max_tokens=12, stream=True,
                                              stream_options={"include_usage": True}, extra_body={"return_token_ids": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    ids = [i for c in chunks if c.choices for i in (c.choices[0].token_ids or [])]
    assert content == ref["text"]
    assert ids == ref["token_ids"]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [ref["finish_reason"]]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == len(ref["prompt_token_ids"])
    assert chunks[-1].usage.completion_tokens == len(ref["token_ids"])


def test_eight_concurrent_clients():
    prompts = [f"Question {i}: name a colour that starts with the letter {chr(65 + i)}." for i in range(8)]
    # References: one client at a time (the first also checked against the CLI).
    refs = []
    for p in prompts:
        answer = client().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": p}], temperature=0,
                                                  max_tokens=10, extra_body={"return_token_ids": True})
        refs.append({"text": answer.choices[0].message.content, "token_ids": answer.choices[0].token_ids})
    cli = cli_generate([{"role": "user", "content": prompts[0]}], 10)
    assert refs[0] == {"text": cli["text"], "token_ids": cli["token_ids"]}
    assert len({tuple(r["token_ids"]) for r in refs}) > 1, "the prompts should not all give the same answer"
    results = [None] * 8
    errors = []

    def worker(i):
        try:
            answer = client().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": prompts[i]}],
                                                      temperature=0, max_tokens=10, stream=(i % 2 == 1),
                                                      extra_body={"return_token_ids": True})
            if i % 2 == 1:
                chunks = list(answer)
                results[i] = ("".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
                              [t for c in chunks if c.choices for t in (c.choices[0].token_ids or [])])
            else:
                results[i] = (answer.choices[0].message.content, answer.choices[0].token_ids)
        except Exception as e:  # reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT * 2)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    for i, (text, ids) in enumerate(results):
        assert ids == refs[i]["token_ids"], f"client {i}"
        assert text == refs[i]["text"], f"client {i}"


def test_disconnect_mid_stream_stops_generation():
    before = metrics()
    c = client()
    stream = c.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Count forever."}],
                                       max_tokens=30000, stream=True, extra_body={"ignore_eos": True, "return_token_ids": True})
    received = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].token_ids:
            received += len(chunk.choices[0].token_ids)
        if received >= 20:
            break
    stream.close()  # closes the half-read response, so its connection
    c.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = metrics()
        if now["qwenvl_requests_cancelled_total"] > before["qwenvl_requests_cancelled_total"]:
            break
        time.sleep(0.1)
    assert now["qwenvl_requests_cancelled_total"] == before["qwenvl_requests_cancelled_total"] + 1
    generated = now["qwenvl_completion_tokens_total"] - before["qwenvl_completion_tokens_total"]
    assert 20 <= generated < 30000, generated
    time.sleep(0.5)
    assert metrics()["qwenvl_completion_tokens_total"] == now["qwenvl_completion_tokens_total"], "the counter still grows"
    assert_still_serving()


def test_malformed_json():
    request = urllib.request.Request(URL + "/v1/chat/completions", data=b'{"model": "x", "messages": [',
                                     headers={"content-type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert excinfo.value.code == 400
    error = json.loads(excinfo.value.read())["error"]
    assert list(error.keys()) == ["message", "type", "param", "code"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"
    assert_still_serving()


def test_unknown_model():
    with pytest.raises(openai.NotFoundError) as excinfo:
        client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    assert_error(excinfo, 404, code="model_not_found", param="model")
    assert_still_serving()


def test_n_greater_than_one():
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "Hi"}], max_tokens=2, n=2)
    assert_error(excinfo, 400, param="n")
    assert_still_serving()


def test_oversized_body():
    # The server runs with --max-body-bytes 1048576; this data URL is 1.5 MB.
    url = "data:image/png;base64," + base64.b64encode(os.urandom(1_100_000)).decode()
    with pytest.raises(openai.APIStatusError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=image_messages(url), max_tokens=2)
    assert_error(excinfo, 413, code="request_too_large")
    # The same without Content-Length (chunked transfer encoding): refused while reading.
    host, port = URL.split("//")[1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    body = json.dumps({"model": MODEL_ID, "messages": image_messages(url), "max_tokens": 2}).encode()
    connection.request("POST", "/v1/chat/completions", body=(body[i:i + 65536] for i in range(0, len(body), 65536)),
                       headers={"content-type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "request_too_large"
    connection.close()
    assert_still_serving()


def huge_png(width, height):
    """A valid 1-bit grey PNG of width × height (all black): a few KB that decode to more pixels than allowed."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_oversized_image_dimensions():
    url = "data:image/png;base64," + base64.b64encode(huge_png(20000, 10000)).decode()
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=image_messages(url), max_tokens=2)
    assert "too large" in assert_error(excinfo, 400)["message"]
    assert_still_serving()


def test_bad_base64():
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=image_messages("data:image/png;base64,iVBORw0KG"), max_tokens=2)
    assert "base64" in assert_error(excinfo, 400)["message"]
    assert_still_serving()


def test_local_path_without_allow_local_media():
    for reference in [str(IMAGES / "icon.png"), "file://" + str(IMAGES / "icon.png")]:
        with pytest.raises(openai.PermissionDeniedError) as excinfo:
            client().chat.completions.create(model=MODEL_ID, messages=image_messages(reference), max_tokens=2)
        assert_error(excinfo, 403, code="media_not_allowed", param="messages[0].content[0]")
    assert_still_serving()


def test_local_media_inside_and_outside_the_allowed_folder():
    c = client(MEDIA_URL)
    for reference in ["icon.png", str(MEDIA_DIR / "icon.png"), "file://" + str(MEDIA_DIR / "icon.png")]:
        answer = c.chat.completions.create(model=MODEL_ID, messages=image_messages(reference), max_tokens=2, temperature=0)
        assert answer.usage.prompt_tokens > 20, reference
    for reference in ["../secret.png", str(MEDIA_DIR / ".." / "secret.png"), str(MEDIA_DIR.parent / "secret.png"),
                      "escape.png", str(IMAGES / "icon.png")]:
        with pytest.raises(openai.PermissionDeniedError) as excinfo:
            c.chat.completions.create(model=MODEL_ID, messages=image_messages(reference), max_tokens=2)
        assert_error(excinfo, 403, code="media_not_allowed")
    assert_still_serving(MEDIA_URL)


# --- Tool calling and structured output (issue 16) -------------------------------------------------------------

import jsonschema  # noqa: E402  (installed by scripts/test-server.sh)

# Small bounds keep the answers of the random tiny checkpoint short (it picks long tokenizations under a debug build).
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 6},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "details": {"type": "object", "properties": {"wind": {"type": "boolean"}}, "required": ["wind"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
SLOW = 600   # seconds: a constrained debug-build answer of ~100 tokens on a busy 2-core machine


def slow_client():
    return openai.OpenAI(base_url=URL + "/v1", api_key="unused", timeout=SLOW, max_retries=0)
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city — météo 天气",
                                      "parameters": WEATHER_SCHEMA}},
    {"type": "function", "function": {"name": "done", "description": "Finish.",
                                      "parameters": {"type": "object", "properties": {}}}},
]
NAMED = {"type": "function", "function": {"name": "get_weather"}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_named_tool_choice_returns_valid_calls():
    response = slow_client().chat.completions.create(model=MODEL_ID, messages=ASK, tools=TOOLS, tool_choice=NAMED,
                                                     max_tokens=160, temperature=0)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls and choice.message.content is None
    assert len({c.id for c in calls}) == len(calls) and all(c.id.startswith("call_") for c in calls)
    for call in calls:
        assert call.type == "function" and call.function.name == "get_weather"
        jsonschema.validate(json.loads(call.function.arguments), WEATHER_SCHEMA)


def test_named_tool_choice_streamed_deltas_concatenate_to_valid_calls():
    kwargs = dict(model=MODEL_ID, messages=ASK, tools=TOOLS, tool_choice=NAMED, max_tokens=160, temperature=0)
    whole = slow_client().chat.completions.create(**kwargs).choices[0].message.tool_calls
    calls: dict[int, dict] = {}
    finish = None
    for chunk in slow_client().chat.completions.create(stream=True, **kwargs):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for item in delta.tool_calls or []:
            entry = calls.setdefault(item.index, {"id": None, "name": None, "arguments": ""})
            if item.id:
                assert entry["id"] is None, "the id comes once, in the first delta"
                entry["id"], entry["name"] = item.id, item.function.name
            entry["arguments"] += item.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [calls[i]["name"] for i in sorted(calls)] == [c.function.name for c in whole]
    assert [calls[i]["arguments"] for i in sorted(calls)] == [c.function.arguments for c in whole]
    for entry in calls.values():
        jsonschema.validate(json.loads(entry["arguments"]), WEATHER_SCHEMA)


def test_required_tool_choice_calls_an_allowed_function():
    response = slow_client().chat.completions.create(model=MODEL_ID, messages=ASK, tools=TOOLS, tool_choice="required",
                                                     parallel_tool_calls=False, max_tokens=160, temperature=0.8, seed=3)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    assert len(choice.message.tool_calls) == 1, "parallel_tool_calls false: one call"
    for call in choice.message.tool_calls:
        jsonschema.validate(json.loads(call.function.arguments), schemas[call.function.name])


def test_response_format_json_schema_content_validates():
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                               "ok": {"type": "boolean"},
                                               "tags": {"type": "array", "items": {"type": "string", "maxLength": 4},
                                                        "maxItems": 2}},
              "required": ["name", "ok", "tags"], "additionalProperties": False}
    for seed in (1, 2):
        response = slow_client().chat.completions.create(
            model=MODEL_ID, messages=[{"role": "user", "content": "A person as JSON."}], max_tokens=160,
            temperature=0.7, seed=seed,
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}})
        choice = response.choices[0]
        assert choice.finish_reason == "stop", choice
        jsonschema.validate(json.loads(choice.message.content), schema)


def test_response_format_json_object():
    response = slow_client().chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=160, temperature=0,
                                                     response_format={"type": "json_object"})
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_tool_choice_none_returns_no_calls():
    response = client().chat.completions.create(model=MODEL_ID, messages=ASK, tools=TOOLS, tool_choice="none",
                                                max_tokens=16, temperature=0)
    choice = response.choices[0]
    assert choice.message.tool_calls is None and choice.finish_reason in ("stop", "length")
    assert isinstance(choice.message.content, str)


def test_conversation_with_a_tool_result_continues():
    messages = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_abc", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"celsius\"}"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "{\"temperature\": 18, \"sky\": \"clear\"}"},
    ]
    response = client().chat.completions.create(model=MODEL_ID, messages=messages, tools=TOOLS, max_tokens=24,
                                                temperature=0)
    choice = response.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    assert response.usage.completion_tokens > 0
    assert (choice.message.content or "") != "" or choice.message.tool_calls
    # The same conversation answers identically through the CLI (the prompt renders the tool turn the same way).
    tools_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(TOOLS, tools_file)
    tools_file.close()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(messages, f)
        path = f.name
    try:
        out = subprocess.run([BIN, "generate", "--model", MODEL, "--messages", path, "--tools", tools_file.name,
                              "--json", "--temperature", "0", "--max-tokens", "24"],
                             capture_output=True, text=True, timeout=120, check=True)
    finally:
        os.unlink(path)
        os.unlink(tools_file.name)
    reference = json.loads(out.stdout.strip().splitlines()[-1])
    assert reference["prompt_token_ids"] is not None
    assert response.usage.prompt_tokens == len(reference["prompt_token_ids"])
    assert (choice.message.content or None) == (reference["content"] or None)


def test_bad_schema_and_unknown_function_are_400s():
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(
            model=MODEL_ID, messages=ASK, max_tokens=8,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "properties": {"zip": {"type": "string", "pattern": "^[0-9]+$"}}}}})
    error = assert_error(excinfo, 400, param="response_format.json_schema.schema")
    assert "pattern" in error["message"], error
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=8, tools=TOOLS,
                                         tool_choice={"type": "function", "function": {"name": "teleport"}})
    error = assert_error(excinfo, 400, param="tool_choice")
    assert "teleport" in error["message"], error
    with pytest.raises(openai.BadRequestError) as excinfo:
        client().chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=8, tool_choice="required")
    assert_error(excinfo, 400, param="tool_choice")
    assert_still_serving()


def test_agent_example_runs_against_the_server():
    """examples/agent/agent.py for 3 steps: every action is a valid call, clicks map inside the screenshot."""
    screenshot = IMAGES / "icon.png"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "agent" / "agent.py"), "--base-url", URL + "/v1",
                          "--screenshot", str(screenshot), "--max-steps", "3", "--max-tokens", "160", "--temperature",
                          "0.9", "--timeout", str(SLOW), "--json"], capture_output=True, text=True, timeout=3 * SLOW,
                         check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    width, height = summary["screenshot_size"]
    assert 1 <= len(summary["steps"]) <= 3
    for step in summary["steps"]:
        assert step["name"] in ("click", "type", "done")
        if step["name"] == "click":
            px, py = step["pixel"]
            assert 0 <= px < width and 0 <= py < height
            assert px == min(max(int(step["x"] * width / 1000), 0), width - 1)
    if not summary["finished"]:
        assert len(summary["steps"]) == 3
