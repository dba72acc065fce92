#!/usr/bin/env python3
"""LoRA training throughput of PyTorch CPU + PEFT on a Qwen2-VL checkpoint, and the same example for `qwenvl finetune`.

One synthetic example: `--tokens` tokens (default 1,024) of which one image block (`--image-size`² pixels, default
448² → grid 1×32×32 → 256 tokens for the 2B), the second half of the text supervised. LoRA r=8, alpha=16,
dropout 0.05 on all 7 decoder linears (q/k/v/o/gate/up/down), AdamW (lr 1e-4, weight decay 0.01), gradient
checkpointing per layer (as `qwenvl finetune` by default; `--no-checkpointing` turns it off), `--threads` torch
threads. Reports seconds and tokens/s of forward + backward + optimizer step per step, and the peak RSS.

    /work/venv/bin/python benchmarks/train_torch.py --model /work/ckpt-2b --threads 2 --steps 3 --write-shard /tmp/bench-shard
    /usr/bin/time -v .build/release/qwenvl finetune --model /work/ckpt-2b --data /tmp/bench-shard --output /tmp/bench-adapter \
        --rank 8 --alpha 16 --dropout 0.05 --max-steps 3 --lr 1e-4 --threads 2

`--dtype f32` (default) loads the weights as float32 (torch's CPU matmuls over bf16 weights would compute in bf16,
not float32 as qwenvl does over stored bf16 weights); `--dtype bf16` keeps them bf16 (bf16 compute, less memory).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import torch

IMAGE_PAD, VISION_START, VISION_END, IM_START, IM_END = 151655, 151652, 151653, 151644, 151645


def build_example(model, tokens: int, image_size: int, seed: int) -> dict:
    vision = model.config.vision_config
    patch, merge = vision.patch_size, vision.spatial_merge_size
    grid = image_size // patch
    image_tokens = grid * grid // (merge * merge)
    if image_tokens + 8 > tokens:
        raise SystemExit(f"--tokens {tokens} is too short for {image_tokens} image tokens")
    rng = np.random.default_rng(seed)
    text = tokens - image_tokens - 2
    before = text // 4
    ids = [IM_START] + rng.integers(0, 151_000, before - 1).tolist() + [VISION_START] + [IMAGE_PAD] * image_tokens + \
        [VISION_END] + rng.integers(0, 151_000, text - before - 1).tolist() + [IM_END]
    ids = ids[:tokens]
    labels = [-100] * len(ids)
    for i in range(len(ids) // 2, len(ids)):
        labels[i] = ids[i]
    input_ids = torch.tensor([ids])
    grid_thw = torch.tensor([[1, grid, grid]])
    channels = vision.in_channels if hasattr(vision, "in_channels") else 3
    pixels = torch.from_numpy(rng.standard_normal((grid * grid, channels * vision.temporal_patch_size * patch * patch),
                                                  dtype=np.float32))
    with torch.no_grad():
        positions, _ = model.model.get_rope_index(input_ids, grid_thw, None, torch.ones_like(input_ids))
    return {"input_ids": input_ids, "labels": torch.tensor([labels]), "pixel_values": pixels, "image_grid_thw": grid_thw,
            "position_ids": positions[:, 0, :]}


def write_shard(example: dict, folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    key = "000000"
    save_file({
        f"{key}.input_ids": example["input_ids"][0].to(torch.int32).contiguous(),
        f"{key}.labels": example["labels"][0].to(torch.int32).contiguous(),
        f"{key}.position_ids": example["position_ids"].to(torch.int32).contiguous(),
        f"{key}.sequence_starts": torch.tensor([0], dtype=torch.int32),
        f"{key}.image_grid_thw": example["image_grid_thw"].to(torch.int32).contiguous(),
        f"{key}.pixel_values": example["pixel_values"].contiguous(),
    }, str(folder / "shard-00000.safetensors"), metadata={"format": "qwenvl-sft-1", "examples": "1"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-shard", type=Path, help="also write the example as an SFT shard folder for qwenvl finetune")
    args = parser.parse_args()

    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLForConditionalGeneration

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dtype = torch.float32 if args.dtype == "f32" else torch.bfloat16
    model = Qwen2VLForConditionalGeneration.from_pretrained(args.model, dtype=dtype, attn_implementation="sdpa")
    example = build_example(model, args.tokens, args.image_size, args.seed)
    if args.write_shard:
        write_shard(example, args.write_shard)
        print(f"wrote {args.write_shard}/shard-00000.safetensors")
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05, target_modules=targets))
    if not args.no_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    inputs = {k: example[k] for k in ("input_ids", "labels", "pixel_values", "image_grid_thw")}
    inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    n = example["input_ids"].shape[1]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.dtype} weights, {sum(p.numel() for p in params)} LoRA "
          f"parameters, {n} tokens ({int((example['input_ids'] == IMAGE_PAD).sum())} image), checkpointing "
          f"{'off' if args.no_checkpointing else 'on'}")
    times = []
    for step in range(args.steps):
        start = time.perf_counter()
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        seconds = time.perf_counter() - start
        times.append(seconds)
        print(f"step {step + 1}: loss {loss.item():.4f}, {seconds:.2f} s, {n / seconds:.1f} tokens/s")
    steady = times[1:] or times
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"mean of steps 2..{args.steps}: {sum(steady) / len(steady):.2f} s/step, {n * len(steady) / sum(steady):.1f} tokens/s; "
          f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
