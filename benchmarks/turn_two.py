#!/usr/bin/env python3
"""Time to first token of turn one and turn two of an image conversation resent in full, as chat clients do.

    python3 benchmarks/turn_two.py --url http://127.0.0.1:8080 --image photo.jpg

Turn one: the image and a question. Turn two: the same messages, the assistant's answer, and a follow-up. With the
vision-feature cache and the prefix KV cache, turn two re-encodes nothing and prefills only the new turn; the
report gives both times, their ratio and the server's usage.prompt_tokens_details.cached_tokens.
"""
from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import time
import urllib.request


def ask(url: str, model: str, messages: list, tokens: int) -> tuple[float, str, dict]:
    body = {"model": model, "messages": messages, "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    request = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    first = None
    text, usage = "", {}
    with urllib.request.urlopen(request, timeout=3600) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices", []):
                piece = choice.get("delta", {}).get("content")
                if piece:
                    first = first or time.perf_counter()
                    text += piece
    return (first or time.perf_counter()) - start, text, usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--image", required=True)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    mime = mimetypes.guess_type(args.image)[0] or "image/jpeg"
    data = base64.b64encode(open(args.image, "rb").read()).decode()
    image = {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
    messages = [{"role": "user", "content": [image, {"type": "text", "text": "Describe this image."}]}]
    t1, answer, usage1 = ask(args.url, args.model, messages, args.tokens)
    messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": "What colours stand out?"}]
    t2, _, usage2 = ask(args.url, args.model, messages, args.tokens)
    print(json.dumps({"turn_one_ttft_s": t1, "turn_two_ttft_s": t2, "ratio": t2 / t1,
                      "turn_one_usage": usage1, "turn_two_usage": usage2}))


if __name__ == "__main__":
    main()
