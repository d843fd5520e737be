"""LoRA against full fine-tuning on the same backbone: trainable parameters, peak RSS and training step time.

    python benchmarks/lora_footprint.py [--steps 30] [--batch_size 16]

Each mode trains in a fresh process (so peak RSS is its own) on real KLUE-STS pairs: a small RoBERTa-shaped encoder
(hidden 256, 4 layers, 8k vocabulary, random weights) with the `cls` head, full fine-tuning vs LoRA r=16, alpha 32 on
the query/value projections with the head trained in full. It also counts the parameters of klue/roberta-large's
shape (24 layers, hidden 1024) with and without LoRA, on the meta device (no weights are materialised).
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModel, RobertaConfig

from hf_sts import StsCrossEncoderModel
from hf_sts.models.lora import apply_lora
from hf_sts.training.arguments import ModelArguments
from hf_sts.training.builder import parameter_counts


REPO_ROOT = Path(__file__).resolve().parents[1]
SMALL = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}


def build(shape: dict, vocab_size: int, use_lora: bool):
    config = RobertaConfig(vocab_size=vocab_size, max_position_embeddings=514, pad_token_id=1, **shape)
    model = StsCrossEncoderModel.from_backbone(AutoModel.from_config(config), head="cls")
    if use_lora:
        model = apply_lora(model, ModelArguments(model_name_or_path="klue/roberta-large", use_lora=True))
    return model, *parameter_counts(model)


def measure(use_lora: bool, steps: int, batch_size: int) -> dict:
    from hf_sts.data.readers import read_sts_file
    from hf_sts.data.wordpiece import train_wordpiece_tokenizer

    train = read_sts_file(REPO_ROOT / "recipes/data/klue-sts/klue-sts-v1.1_train.csv")
    tokenizer = train_wordpiece_tokenizer(train["sentence1"][:] + train["sentence2"][:], 8000)
    torch.manual_seed(0)
    model, trainable, total = build(SMALL, len(tokenizer), use_lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    times = []
    for step in range(steps + 3):  # 3 warm-up steps are not timed
        rows = train.select(range(step * batch_size, (step + 1) * batch_size))
        batch = tokenizer(rows["sentence1"][:], rows["sentence2"][:], padding=True, return_tensors="pt")
        start = time.perf_counter()
        loss = torch.nn.functional.mse_loss(model(**batch).logits, torch.tensor(rows["label"][:]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= 3:
            times.append(time.perf_counter() - start)
    return {
        "mode": "lora" if use_lora else "full",
        "trainable": trainable,
        "total": total,
        "trainable_pct": round(100 * trainable / total, 2),
        "step_ms": round(1000 * sorted(times)[len(times) // 2], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--child", choices=["full", "lora"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child == "lora", args.steps, args.batch_size)))
        return
    print(
        f"Small RoBERTa-shaped encoder {SMALL}, batch {args.batch_size}, median of {args.steps} steps, "
        f"{torch.get_num_threads()} threads:"
    )
    for mode in ("full", "lora"):
        command = [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--steps",
            str(args.steps),
            "--batch_size",
            str(args.batch_size),
        ]
        result = json.loads(
            subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1]
        )
        print(
            f"  {mode:>4}: {result['trainable']:>10,} of {result['total']:>11,} trainable ({result['trainable_pct']}%), "
            f"step {result['step_ms']} ms, peak RSS {result['peak_rss_mb']} MB"
        )
    with torch.device("meta"):
        for use_lora in (False, True):
            _, trainable, total = build(LARGE, 32000, use_lora)
            print(
                f"klue/roberta-large shape, {'LoRA r=16' if use_lora else 'full'}: {trainable:,} of {total:,} "
                f"trainable ({100 * trainable / total:.2f}%)"
            )


if __name__ == "__main__":
    main()
