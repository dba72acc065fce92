#!/usr/bin/env python3
"""Aggregate decode rate of N concurrent streamed chat completions against an OpenAI-compatible server.

Used for `qwenvl serve` and llama-server alike (same prompts, same client, same token counts):

    python3 benchmarks/concurrent_decode.py --url http://127.0.0.1:8080 --streams 8 --tokens 64

Each stream sends a different short text prompt with temperature 0 and max_tokens T (llama-server also gets
ignore_eos so every stream decodes T tokens; random-weight checkpoints almost never end early anyway). Reported:
aggregate decode tokens/s (tokens after each stream's first, over the span from the earliest first token to the
last token), time to first token, and the inter-token latency percentiles over all streams' gaps.
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request


def stream(url: str, model: str, prompt: str, tokens: int, out: dict) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": tokens,
            "temperature": 0, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    request = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    stamps: list[float] = []
    with urllib.request.urlopen(request, timeout=3600) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if chunk.get("usage"):
                out["completion_tokens"] = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices", []):
                if choice.get("delta", {}).get("content"):
                    stamps.append(time.perf_counter())
    out.update(start=start, stamps=stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    results = [dict() for _ in range(args.streams)]
    threads = [threading.Thread(target=stream, args=(args.url, args.model, f"Request {i}: describe item number {i * 7 + 3}.",
                                                     args.tokens, results[i])) for i in range(args.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    firsts = [r["stamps"][0] for r in results if r.get("stamps")]
    lasts = [r["stamps"][-1] for r in results if r.get("stamps")]
    # Tokens after each stream's first chunk (usage's count when the server sends it, else one per chunk).
    decoded = sum((r.get("completion_tokens") or len(r["stamps"])) - 1 for r in results if r.get("stamps"))
    gaps = sorted(b - a for r in results for a, b in zip(r["stamps"], r["stamps"][1:]))
    ttft = [r["stamps"][0] - r["start"] for r in results if r.get("stamps")]
    span = max(lasts) - min(firsts)
    report = {"label": args.label, "streams": args.streams, "chunks_per_stream": [len(r.get("stamps", [])) for r in results],
              "tokens_per_stream": [r.get("completion_tokens") for r in results],
              "aggregate_decode_tok_s": decoded / span if span > 0 else 0.0,
              "ttft_median_s": statistics.median(ttft), "itl_p50_ms": 1e3 * gaps[len(gaps) // 2],
              "itl_p99_ms": 1e3 * gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
