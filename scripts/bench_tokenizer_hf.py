#!/usr/bin/env python3
"""Measures HF `tokenizers` encode throughput (MB/s of UTF-8 input) on a JSONL corpus; prints one JSON object.

Usage:

    /work/venv/bin/python scripts/bench_tokenizer_hf.py --corpus Tests/Fixtures/reference/tokenizer_corpus.jsonl \
        [--tokenizer Tests/Fixtures/tokenizer/tokenizer.json] [--repeat 20] [--batch-threads N]

Each corpus line is a JSON string. `encode` runs single-threaded, one line at a time in a Python loop (the
per-call Python overhead is included, as in real use). `encode_batch` runs on a Rayon pool of
`--batch-threads` threads (default: all cores). The best of `--repeat` passes is reported for each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DEFAULT_TOKENIZER = Path(__file__).resolve().parents[1] / "Tests" / "Fixtures" / "tokenizer" / "tokenizer.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="JSONL file, one JSON string per line")
    parser.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="tokenizer.json")
    parser.add_argument("--repeat", type=int, default=10, help="passes over the corpus (best is reported)")
    parser.add_argument("--batch-threads", type=int, default=os.cpu_count() or 1,
                        help="Rayon threads for encode_batch")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be ≥ 1")

    # Rayon reads its thread count when the pool is first used, so set it before importing tokenizers.
    os.environ["RAYON_NUM_THREADS"] = str(args.batch_threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    import tokenizers
    from tokenizers import Tokenizer

    try:
        lines = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").split("\n") if line]
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read corpus {args.corpus}: {error}", file=sys.stderr)
        return 2
    if not all(isinstance(line, str) for line in lines):
        print("corpus lines must be JSON strings", file=sys.stderr)
        return 2
    tokenizer = Tokenizer.from_file(str(args.tokenizer))
    total_bytes = sum(len(line.encode("utf-8")) for line in lines)

    def timed(run) -> tuple[float, int]:
        best, tokens = float("inf"), 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            tokens = run()
            best = min(best, time.perf_counter() - start)
        return best, tokens

    def encode_loop() -> int:
        return sum(len(tokenizer.encode(line, add_special_tokens=False).ids) for line in lines)

    def encode_batch() -> int:
        return sum(len(e.ids) for e in tokenizer.encode_batch(lines, add_special_tokens=False))

    encode_loop()  # warm-up (regex compilation, caches)
    loop_s, loop_tokens = timed(encode_loop)
    batch_s, batch_tokens = timed(encode_batch)
    result = {
        "tool": "huggingface-tokenizers",
        "version": tokenizers.__version__,
        "corpus": str(args.corpus),
        "lines": len(lines),
        "bytes": total_bytes,
        "tokens": loop_tokens,
        "repeat": args.repeat,
        "encode_seconds": loop_s,
        "encode_mb_per_s": total_bytes / loop_s / 1e6,
        "encode_tokens_per_s": loop_tokens / loop_s,
        "encode_batch_threads": args.batch_threads,
        "encode_batch_seconds": batch_s,
        "encode_batch_mb_per_s": total_bytes / batch_s / 1e6,
        "encode_batch_tokens": batch_tokens,
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
