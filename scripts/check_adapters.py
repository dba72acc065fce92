#!/usr/bin/env python3
"""Checks Swift-written LoRA adapters and merged checkpoints with HF PEFT 0.17.1 / transformers 4.57.6.

`swift test` (AdapterTests) leaves, for tiny-f32 and tiny-bf16, under .build/adapter-check/<ckpt>/:
  adapter/  the fixture adapter loaded and re-saved by LoRAAdapter.save
  merged/   the checkpoint written by MergedCheckpoint (what `qwenvl merge-adapter` writes)
This script loads `adapter/` with PeftModel.from_pretrained on the float32 base model and `merged/` with
Qwen2VLForConditionalGeneration.from_pretrained, and compares their last-position logits on the fixture's text and
image cases with reference/<ckpt>/adapter.json (max |Δ| / std ≤ 1e-4: PeftModel against the PeftModel logits;
merged against the merged reference, which for tiny-bf16 holds the merged linears rounded to bfloat16).

Usage: /work/venv/bin/python scripts/check_adapters.py [.build/adapter-check]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts" / "fixtures"))

import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import adapter_references  # noqa: E402
import fixture_io as io  # noqa: E402
import image_references  # noqa: E402
import text_references  # noqa: E402

TOLERANCE = 1e-4


def _logits(model, inputs) -> np.ndarray:
    with torch.no_grad():
        return model(**inputs).logits[0, -1].to(torch.float32).numpy()


def _compare(label: str, ours: np.ndarray, ckpt: str, entry: dict) -> float:
    expected = np.load(io.REFERENCE_DIR / ckpt / entry["logits_file"]).astype(np.float64)
    error = float(np.max(np.abs(ours[: expected.shape[0]].astype(np.float64) - expected)) / entry["logits_std"])
    status = "ok" if error <= TOLERANCE else "FAIL"
    print(f"  {label}: max|Δ|/std {error:.3g} {status}")
    return error


def check(root: Path, ckpt: str) -> bool:
    from peft import PeftModel

    reference = json.loads((io.REFERENCE_DIR / ckpt / "adapter.json").read_text())
    cases = adapter_references._case_inputs(ckpt)
    refs = {case["name"]: case for case in reference["cases"]}
    ok = True
    with tempfile.TemporaryDirectory(prefix="qwenvl-check-") as scratch:
        scratch = Path(scratch)
        (scratch / "base").mkdir()
        base = text_references.load_model(image_references.legacy_view(io.FIXTURES / ckpt, scratch / "base"))
        peft_model = PeftModel.from_pretrained(base, root / ckpt / "adapter").eval()
        for _, name, inputs in cases:
            ok &= _compare(f"{ckpt}/{name} PeftModel.from_pretrained(Swift-saved adapter)", _logits(peft_model, inputs),
                           ckpt, refs[name]["peft"]) <= TOLERANCE
        (scratch / "merged").mkdir()
        merged = text_references.load_model(image_references.legacy_view(root / ckpt / "merged", scratch / "merged"))
        for _, name, inputs in cases:
            ok &= _compare(f"{ckpt}/{name} from_pretrained(Swift-merged checkpoint)", _logits(merged, inputs),
                           ckpt, refs[name]["merged"]) <= TOLERANCE
    return ok


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / ".build" / "adapter-check"
    torch.set_num_threads(1)
    results = []
    for ckpt in ("tiny-f32", "tiny-bf16"):
        if not (root / ckpt / "adapter").is_dir() or not (root / ckpt / "merged").is_dir():
            print(f"missing {root / ckpt}/adapter or merged: run `swift test --filter AdapterTests` first")
            return 1
        results.append(check(root, ckpt))
    if not all(results):
        print("adapter check FAILED")
        return 1
    print("adapter check: Swift-saved adapters load in HF PEFT and merged checkpoints in transformers, logits match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
