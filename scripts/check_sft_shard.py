#!/usr/bin/env python3
"""Checks that an SFT shard written by the Swift tests loads in Python's safetensors and holds what it should.

Usage: check_sft_shard.py .build/sft-shard-check   (written by DatasetTests.testShardRoundTripAndErrors)

The folder holds shard.safetensors and expected.json (per example: input_ids, labels, position_ids [3][n],
sequence_starts, grids, pixel sums). Loads with safetensors.torch.load_file when torch is installed, else with
safetensors.numpy.load_file (the same Rust parser; numpy arrays).
"""

import json
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".build/sft-shard-check")
    try:
        from safetensors.torch import load_file
        loader = "safetensors.torch"
        tensors = {k: v.numpy() for k, v in load_file(str(folder / "shard.safetensors")).items()}
    except ImportError:
        from safetensors.numpy import load_file
        loader = "safetensors.numpy"
        tensors = load_file(str(folder / "shard.safetensors"))
    from safetensors import safe_open
    with safe_open(str(folder / "shard.safetensors"), framework="numpy") as handle:
        metadata = handle.metadata()
    expected = json.loads((folder / "expected.json").read_text())
    problems = []
    if metadata != {"format": "qwenvl-sft-1", "examples": str(len(expected))}:
        problems.append(f"metadata {metadata}")
    used = 0
    for i, example in enumerate(expected):
        prefix = f"{i:06d}"
        for key in ("input_ids", "labels", "position_ids", "sequence_starts"):
            value = tensors.get(f"{prefix}.{key}")
            used += value is not None
            if value is None or value.dtype != np.int32 or value.tolist() != example[key]:
                problems.append(f"{prefix}.{key}")
        for grid, pixels in (("image_grid_thw", "pixel_values"), ("video_grid_thw", "pixel_values_videos")):
            if not example[grid]:
                continue
            used += 2
            g, p = tensors.get(f"{prefix}.{grid}"), tensors.get(f"{prefix}.{pixels}")
            if g is None or g.tolist() != example[grid]:
                problems.append(f"{prefix}.{grid}")
            if p is None or p.dtype != np.float32 or p.shape != (int(np.prod(g, axis=1).sum()), 1176) or \
                    abs(float(p.astype(np.float64).sum()) - example[pixels + "_sum"]) > 1e-3:
                problems.append(f"{prefix}.{pixels}")
    if used != len(tensors):
        problems.append(f"{len(tensors) - used} unexpected tensors")
    if problems:
        print(f"SFT shard check FAILED ({loader}): {problems}")
        return 1
    print(f"SFT shard check: {len(expected)} examples, {len(tensors)} tensors load with {loader} as written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
