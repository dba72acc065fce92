#!/usr/bin/env python3
"""A visual agent on `qwenvl serve`: screenshot in, one function call out, repeated until `done()`.

The model sees the task and a screenshot, and must answer with a call to one of three tools (tool_choice
"required", so decoding is constrained to a valid call even for a weak model):
  click(x, y)   x, y in the model's [0, 1000) space, mapped here to the screenshot's pixels
  type(text)    type text into the focused field
  done()        the task is finished
Each call's result goes back as a `tool` message, followed by a fresh screenshot, for at most --max-steps steps.

    qwenvl serve --model Qwen2-VL-2B-Instruct --port 8080 &
    python examples/agent/agent.py --base-url http://127.0.0.1:8080/v1 --screenshot screen.png \
        --task "Open the Settings app"

By default actions are only printed (a dry run). --xdotool performs them on the X display with `xdotool`, and
--screenshot-command runs a command that writes a fresh screenshot to the --screenshot path before every step
(e.g. "import -window root screen.png"). --json prints a machine-readable summary as the last line.
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import openai

TOOLS = [
    {"type": "function", "function": {
        "name": "click",
        "description": "Click a point of the screenshot. x and y are in [0, 1000): (0, 0) is the top-left corner, "
                       "(999, 999) the bottom-right.",
        "parameters": {"type": "object", "properties": {
            "x": {"type": "integer", "description": "horizontal position, 0-999"},
            "y": {"type": "integer", "description": "vertical position, 0-999"}},
            "required": ["x", "y"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "type",
        "description": "Type text into the focused field.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 64}}, "required": ["text"],
                       "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "done",
        "description": "Call when the task is finished.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}},
]

SYSTEM = ("You are a GUI agent. You see a screenshot of the screen and must reach the user's goal by calling one "
          "tool per step. Coordinates are in [0, 1000) relative to the screenshot.")


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG (read from its IHDR chunk) or, with Pillow installed, of any image."""
    data = path.read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    from PIL import Image  # optional: only for non-PNG screenshots

    with Image.open(path) as image:
        return image.size


def data_url(path: Path) -> str:
    kind = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(path.suffix.lower(), "png")
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode()


def to_pixels(x: float, y: float, width: int, height: int) -> tuple[int, int]:
    """Maps the model's [0, 1000) coordinates to a pixel of a width × height screenshot (clamped inside it)."""
    px = min(max(int(x * width / 1000), 0), width - 1)
    py = min(max(int(y * height / 1000), 0), height - 1)
    return px, py


def screenshot_message(path: Path, text: str) -> dict:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url(path)}},
                                        {"type": "text", "text": text}]}


def perform(name: str, arguments: dict, size: tuple[int, int], xdotool: bool) -> tuple[str, dict]:
    """Carries out (or, in a dry run, describes) one call; returns the tool result text and a log record."""
    if name == "click":
        px, py = to_pixels(arguments["x"], arguments["y"], *size)
        if xdotool:
            subprocess.run(["xdotool", "mousemove", str(px), str(py), "click", "1"], check=True, timeout=10)
        return f"clicked at pixel ({px}, {py})", {"action": "click", "x": arguments["x"], "y": arguments["y"],
                                                  "pixel": [px, py]}
    if name == "type":
        if xdotool:
            subprocess.run(["xdotool", "type", "--", arguments["text"]], check=True, timeout=30)
        return f"typed {len(arguments['text'])} characters", {"action": "type", "text": arguments["text"]}
    return "task finished", {"action": "done"}


def run(args: argparse.Namespace) -> dict:
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, timeout=args.timeout, max_retries=0)
    model = args.model or client.models.list().data[0].id
    screenshot = Path(args.screenshot)
    if args.screenshot_command:
        subprocess.run(shlex.split(args.screenshot_command), check=True, timeout=30)
    messages = [{"role": "system", "content": SYSTEM}, screenshot_message(screenshot, f"Task: {args.task}")]
    steps: list[dict] = []
    finished = False
    for step in range(1, args.max_steps + 1):
        response = client.chat.completions.create(
            model=model, messages=messages, tools=TOOLS, tool_choice="required", parallel_tool_calls=False,
            temperature=args.temperature, max_tokens=args.max_tokens)
        message = response.choices[0].message
        calls = message.tool_calls or []
        if not calls:   # cannot happen with tool_choice "required" unless the answer hit max_tokens
            print(f"step {step}: no call (finish_reason {response.choices[0].finish_reason})", file=sys.stderr)
            break
        messages.append({"role": "assistant", "content": message.content, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in calls]})
        size = image_size(screenshot)
        for call in calls:
            arguments = json.loads(call.function.arguments)
            result, record = perform(call.function.name, arguments, size, args.xdotool)
            print(f"step {step}: {call.function.name}({call.function.arguments}) -> {result}", file=sys.stderr)
            steps.append({"step": step, "name": call.function.name, "arguments": arguments, **record})
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            finished = finished or call.function.name == "done"
        if finished:
            break
        if args.screenshot_command:
            subprocess.run(shlex.split(args.screenshot_command), check=True, timeout=30)
        messages.append(screenshot_message(screenshot, "Here is the screen now. Continue with the task."))
    return {"finished": finished, "steps": steps, "screenshot_size": list(image_size(screenshot))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1", help="the server's /v1 URL")
    parser.add_argument("--api-key", default="unused")
    parser.add_argument("--model", help="model id (default: the server's first model)")
    parser.add_argument("--screenshot", required=True, help="screenshot image file (PNG, or any format with Pillow)")
    parser.add_argument("--screenshot-command", help="command that rewrites --screenshot before each step")
    parser.add_argument("--task", default="Click the OK button, then finish.")
    parser.add_argument("--max-steps", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--xdotool", action="store_true", help="perform the actions with xdotool (else only print)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    args = parser.parse_args(argv)
    summary = run(args)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{'finished' if summary['finished'] else 'stopped'} after {len(summary['steps'])} action(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
