"""hf_sts against its peers, side by side on the same pairs and backbone: training and inference pairs/s, tokens per
pair, and MFU against this machine's measured matmul peaks.

    python benchmarks/speed.py --encoder .cache/multilingual-e5-small              # the tiny BERT, then the encoder
    python benchmarks/speed.py --encoder DIR --backbones encoder --train_pairs 384   # the encoder only

Backbones: a 2-layer BERT (hidden 128, a 4,000-piece WordPiece vocabulary trained on the pairs; random weights, as
the quickstart's) and the pretrained encoder folder given with `--encoder` (e.g. multilingual-e5-small, written by
`../shared/tools/multilingual_e5_small/build.sh DIR`). Pairs: the first KLUE-STS v1.1 train pairs for training
(4,000 for the tiny BERT, `--train_pairs` for the encoder) and the 519 dev pairs for inference
(`recipes/data/klue-sts/`, CC BY-SA 4.0).

Training, 1 epoch, batch 32 (tiny) / 16 (encoder), each in a fresh process, one after the other, each at its
defaults otherwise:

- `hf_sts`: `hf_sts/run.py` with the CPU recipe (`recipes/quickstart_cross_encoder.json`, `recipes/multilingual_e5_
  small.json`), the cross-encoder with the `cls` head: its own `bf16` (on where the CPU runs it natively) and
  `freeze_embeddings`, length-grouped batches;
- `Trainer + grouping`: `transformers.Trainer` on `AutoModelForSequenceClassification(num_labels=1)`, dynamic
  padding (`DataCollatorWithPadding`) and `train_sampling_strategy="group_by_length"`;
- `Trainer, padded to 128`: the same, every pair padded to 128 tokens (run_glue's default, `pad_to_max_length`);
- `CrossEncoderTrainer`: sentence-transformers' `CrossEncoder(num_labels=1)` and `CrossEncoderTrainer` with
  `BinaryCrossEntropyLoss` on the scores / 5 (its STS example).

Inference on the dev pairs, with the model hf_sts trained (scoring time only, model loaded): `hf-sts predict`'s
`predict_scores` (length-sorted batches of 16, its default on a CPU, and of 64 and 256), the same through ONNX
Runtime (`hf-sts export --format onnx --quantize int8`, then `--backend onnx` with `model.onnx`, fp32, and with the
dynamic int8 graph, in batches of 16 and 64), sentence-transformers' `CrossEncoder.predict` (batch 32, its default,
and 16) and a plain `AutoModelForSequenceClassification` loop (batch 32, input order, `torch.no_grad`), both on the
model exported by `hf-sts export --format sequence-classification`. For the encoder, also a zero-shot bi-encoder (the
plain encoder, mean pooling, e5's `"query: "` prompt, 5 × cosine): `hf-sts predict` against
`SentenceTransformer.encode` of the same encoder and pooling. `Pearson r` is against the dev labels (predictions
clipped to 0–5); `max |Δ|` is the largest score difference from the table's first row (0–5 scale).

Where hf_sts' bf16 probe (`hf_sts.utils.hardware.native_bf16`) finds bf16 faster than fp32 on the machine, the peers
also run in bf16 (`Trainer + grouping, bf16`, `CrossEncoderTrainer, bf16`, `CrossEncoder.predict` under bf16
autocast), so that no ratio is bought with a precision the peer could use too; hf_sts' recipes decide by themselves
(`bf16: auto`). The header names the CPU, its bf16/int8 flags and what the probe measured.

Pairs/s is `train_samples_per_second` of each trainer's `train()` (the same clock for all four). Tokens per pair:
`real` (non-padding) and `computed` (padded) tokens fed to the encoder, counted at its word embeddings. MFU: model
FLOPs per second (6 × non-embedding parameters × computed tokens, plus attention, 12 × layers × hidden × length² per
sequence, for training; a third of it for inference), over the fp32 and bf16 peaks of a 2048 × 2048 matmul measured
in this run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hf_sts.data.readers import read_sts_file


REPO_ROOT = Path(__file__).resolve().parents[1]
KLUE = REPO_ROOT / "recipes" / "data" / "klue-sts"
TRAIN_PEERS = ["hf_sts", "trainer_grouped", "trainer_padded", "ce_trainer"]
TRAIN_LABELS = {
    "hf_sts": "hf_sts",
    "trainer_grouped": "Trainer + grouping",
    "trainer_padded": "Trainer, padded to 128",
    "ce_trainer": "CrossEncoderTrainer",
}
INFER_PEERS = [
    "hf_sts_16",
    "hf_sts_64",
    "hf_sts_256",
    "hf_sts_onnx_16",
    "hf_sts_onnx-int8_16",
    "hf_sts_onnx-int8_64",
    "ce_predict",
    "ce_predict_16",
    "plain_loop",
]
INFER_LABELS = {
    "hf_sts_16": "hf-sts predict (batch 16, its default on a CPU)",
    "hf_sts_64": "hf-sts predict, batch 64",
    "hf_sts_256": "hf-sts predict, batch 256",
    "hf_sts_onnx_16": "hf-sts predict --backend onnx (fp32)",
    "hf_sts_onnx-int8_16": "hf-sts predict --backend onnx (int8)",
    "hf_sts_onnx-int8_64": "hf-sts predict --backend onnx (int8), batch 64",
    "ce_predict": "CrossEncoder.predict (batch 32, its default)",
    "ce_predict_16": "CrossEncoder.predict, batch 16",
    "ce_predict_bf16": "CrossEncoder.predict, bf16 autocast",
    "plain_loop": "AutoModelForSequenceClassification loop",
}
# Peers that also run in bf16 where bf16 is faster than fp32 on the machine (hf_sts' recipes decide by themselves,
# `bf16: auto`), so that no ratio is bought with a precision the peer could use too.
BF16_TRAIN_PEERS = {"trainer_grouped": "trainer_grouped_bf16", "ce_trainer": "ce_trainer_bf16"}
BF16_INFER_PEERS = {"ce_predict": "ce_predict_bf16"}
TRAIN_LABELS.update(trainer_grouped_bf16="Trainer + grouping, bf16", ce_trainer_bf16="CrossEncoderTrainer, bf16")
BI_ENCODER_PEERS = {"hf_sts_bi": "hf-sts predict (zero-shot bi-encoder)", "st_encode": "SentenceTransformer.encode"}
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")
MAX_LENGTH = 128


# ---------------------------------------------------------------------------------------------------------------
# Counting what the encoder computes: every call of its word embeddings, in any peer.


class TokenCounter:
    """Counts the sequences fed to a model's word embeddings (the largest `nn.Embedding`): rows, real and computed
    (padded) tokens, and the sum of squared padded lengths (for attention FLOPs)."""

    def __init__(self, model: torch.nn.Module, pad_token_id: int):
        embedding = max(
            (module for module in model.modules() if isinstance(module, torch.nn.Embedding)),
            key=lambda module: module.num_embeddings,
        )
        self.pad_token_id = pad_token_id
        self.sequences = self.real = self.computed = self.squared = 0
        embedding.register_forward_pre_hook(self._count)

    def _count(self, module, args):
        input_ids = args[0]
        rows, length = input_ids.shape
        self.sequences += rows
        self.real += int((input_ids != self.pad_token_id).sum())
        self.computed += rows * length
        self.squared += rows * length * length

    def as_dict(self) -> dict:
        return {"sequences": self.sequences, "real": self.real, "computed": self.computed, "squared": self.squared}


def _count_training(pad_token_id: int) -> dict:
    """Patch `transformers.Trainer.train` (which every peer's trainer inherits) to count tokens and keep the
    metrics; returns the dict the results land in."""
    from transformers import Trainer

    results: dict = {}
    original = Trainer.train

    def train(self, *args, **kwargs):
        counter = TokenCounter(self.model, pad_token_id)
        output = original(self, *args, **kwargs)
        results.update(output.metrics, tokens=counter.as_dict(), bf16=bool(self.args.bf16))
        return output

    Trainer.train = train
    return results


# ---------------------------------------------------------------------------------------------------------------
# Workers: one peer each, in a fresh process.


def _labelled_dataset(frame: pd.DataFrame):
    from datasets import Dataset

    return Dataset.from_pandas(frame[["sentence1", "sentence2", "label"]], preserve_index=False)


def train_worker(peer: str, backbone: str, train_csv: Path, run_dir: Path, batch_size: int, tiny: bool) -> dict:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    tokenizer = AutoTokenizer.from_pretrained(backbone)
    results = _count_training(tokenizer.pad_token_id)
    frame = pd.read_csv(train_csv)
    common = {
        "output_dir": str(run_dir),
        "per_device_train_batch_size": batch_size,
        "num_train_epochs": 1,
        "seed": 42,
        "report_to": "none",
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
    }
    if peer == "hf_sts":
        from hf_sts.run import main

        recipe = "recipes/quickstart_cross_encoder.json" if tiny else "recipes/multilingual_e5_small.json"
        overrides = {
            "model_name_or_path": backbone,
            "head": "cls",
            "train_file": str(train_csv),
            "validation_file": "none",
            "validation_split_percentage": "0",
            "eval_strategy": "no",
            "load_best_model_at_end": "false",
            "add_swapped_pairs": "false",
            "overwrite_output_dir": "true",
            **{key: str(value) for key, value in common.items()},
        }
        main([str(REPO_ROOT / recipe), *[item for key, value in overrides.items() for item in (f"--{key}", value)]])
    elif peer.startswith(("trainer_grouped", "trainer_padded")):
        padded = peer == "trainer_padded"
        if peer.endswith("_bf16"):
            common.update(bf16=True, use_cpu=not torch.cuda.is_available())
        model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1)
        dataset = _labelled_dataset(frame).map(
            lambda batch: tokenizer(
                batch["sentence1"],
                batch["sentence2"],
                truncation=True,
                max_length=MAX_LENGTH,
                padding="max_length" if padded else False,
            ),
            batched=True,
            remove_columns=["sentence1", "sentence2"],
        )
        args = TrainingArguments(**common, train_sampling_strategy="random" if padded else "group_by_length")
        collator = default_data_collator if padded else DataCollatorWithPadding(tokenizer)
        Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator).train()
    elif peer.startswith("ce_trainer"):
        if peer.endswith("_bf16"):
            common.update(bf16=True, use_cpu=not torch.cuda.is_available())
        from sentence_transformers.cross_encoder import (
            CrossEncoder,
            CrossEncoderTrainer,
            CrossEncoderTrainingArguments,
        )
        from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

        model = CrossEncoder(backbone, num_labels=1, max_length=MAX_LENGTH)
        dataset = _labelled_dataset(frame.assign(label=frame["label"] / 5.0))
        args = CrossEncoderTrainingArguments(**common)
        CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=BinaryCrossEntropyLoss(model)).train()
    else:
        raise ValueError(f"unknown training peer {peer!r}")
    return results


def infer_worker(peer: str, hf_sts_dir: Path, exported_dir: Path, pairs_csv: Path) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    frame = pd.read_csv(pairs_csv)
    first, second = frame["sentence1"].tolist(), frame["sentence2"].tolist()
    if peer == "hf_sts_bi":  # the plain encoder, zero-shot: mean pooling, e5's "query: " prompt, 5 × cosine
        from hf_sts.inference.loading import load_model

        loaded = load_model(str(hf_sts_dir), pooling="mean", prompt="query: ", max_seq_length=MAX_LENGTH)
        counter = TokenCounter(loaded.model, loaded.tokenizer.pad_token_id)
        start = time.perf_counter()
        scores = loaded.score(first, second, show_progress_bar=False)
        bf16 = loaded.use_bf16()
    elif peer == "st_encode":  # the same encoder as sentence-transformers builds it: mean pooling, then cosine
        from sentence_transformers import SentenceTransformer, models

        encoder = models.Transformer(str(hf_sts_dir), max_seq_length=MAX_LENGTH)
        pooling = models.Pooling(encoder.get_word_embedding_dimension(), "mean")
        model = SentenceTransformer(modules=[encoder, pooling], device="cpu")
        counter = TokenCounter(model, model.tokenizer.pad_token_id)
        start = time.perf_counter()
        embeddings = [
            model.encode(texts, prompt="query: ", convert_to_tensor=True, normalize_embeddings=True)
            for texts in (first, second)
        ]
        scores = 5.0 * (embeddings[0] * embeddings[1]).sum(-1).numpy()
        bf16 = False
    elif peer.startswith("hf_sts"):
        from hf_sts.inference.loading import load_model

        backend, batch_size = peer.removeprefix("hf_sts_").rpartition("_")[::2]
        if not backend:
            loaded = load_model(str(hf_sts_dir))
            counter = TokenCounter(loaded.model, loaded.tokenizer.pad_token_id)
        else:  # `hf-sts export --format onnx --quantize int8`: model.onnx, and the int8 graph beside it
            onnx_dir = _onnx_dir(exported_dir)
            graphs = sorted(path.name for path in (onnx_dir / "onnx").glob("*.onnx"))
            chosen = next(name for name in graphs if ("int8" in name) == (backend == "onnx-int8"))
            loaded, counter = load_model(str(onnx_dir), backend="onnx", onnx_file=chosen), None
        start = time.perf_counter()
        scores = loaded.score(first, second, int(batch_size), show_progress_bar=False)
        bf16 = loaded.use_bf16()
    elif peer.startswith("ce_predict"):
        from sentence_transformers.cross_encoder import CrossEncoder

        model = CrossEncoder(str(exported_dir))
        counter = TokenCounter(model, model.tokenizer.pad_token_id)
        bf16, batch_size = peer.endswith("_bf16"), 16 if peer.endswith("_16") else 32
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pairs = list(zip(first, second, strict=True))
            scores = model.predict(pairs, batch_size=batch_size, show_progress_bar=False)
    elif peer == "plain_loop":
        tokenizer = AutoTokenizer.from_pretrained(exported_dir)
        model = AutoModelForSequenceClassification.from_pretrained(exported_dir).eval()
        counter = TokenCounter(model, tokenizer.pad_token_id)
        start = time.perf_counter()
        scores = []
        with torch.no_grad():
            for index in range(0, len(first), 32):
                batch = tokenizer(
                    first[index : index + 32],
                    second[index : index + 32],
                    truncation=True,
                    max_length=MAX_LENGTH,
                    padding=True,
                    return_tensors="pt",
                )
                scores.append(model(**batch).logits.squeeze(-1))
        scores = torch.cat(scores).numpy()
        bf16 = False
    else:
        raise ValueError(f"unknown inference peer {peer!r}")
    runtime = time.perf_counter() - start
    return {
        "runtime": runtime,
        "pairs": len(first),
        "scores": np.asarray(scores, dtype=np.float64).tolist(),
        "tokens": counter.as_dict() if counter is not None else None,  # ONNX Runtime runs no torch embedding
        "bf16": bool(bf16),
    }


def _onnx_dir(exported_dir: Path) -> Path:
    return exported_dir.with_name(f"{exported_dir.name}-onnx")


# ---------------------------------------------------------------------------------------------------------------
# The parent: data, backbones, peaks, the workers in turn, the tables.


def cpu_description() -> str:
    """The CPU's model name and the flags that decide bf16 and int8 speed, from `/proc/cpuinfo`."""
    model, flags = "unknown CPU", set()
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            if key.strip() == "flags" and not flags:
                flags = set(value.split())
    return f"{model}; flags: {', '.join(flag for flag in CPU_FLAGS if flag in flags) or 'none of ' + str(CPU_FLAGS)}"


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 10, budget: float = 5.0) -> float:
    """GFLOP/s of a `size` × `size` matmul in `dtype` on every thread of this process (best of `repeats`, fewer once
    `budget` seconds are spent: emulated bf16 takes tens of seconds per matmul)."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    begin = time.perf_counter()
    a @ b
    best = float("inf")
    for _ in range(repeats):
        if time.perf_counter() - begin > budget and best < float("inf"):
            break
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def build_tiny_backbone(train_csv: Path, folder: Path) -> None:
    """The quickstart's shape (2 layers, hidden 128) with its 4,000-piece tokenizer, random weights, saved as a
    pretrained folder so that every peer loads the same one."""
    from transformers import BertConfig, BertModel

    from hf_sts.data.wordpiece import train_wordpiece_tokenizer

    frame = pd.read_csv(train_csv)
    tokenizer = train_wordpiece_tokenizer(frame["sentence1"].tolist() + frame["sentence2"].tolist(), 4000)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=MAX_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(42)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def model_shape(backbone: str) -> dict:
    """Non-embedding parameters, layers and hidden size of the backbone (the FLOPs model of the MFU)."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(backbone)
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    embedding = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    total = sum(p.numel() for p in model.parameters())
    return {"params": total - embedding, "layers": config.num_hidden_layers, "hidden": config.hidden_size}


def model_flops(tokens: dict, shape: dict, training: bool) -> float:
    """Matmul FLOPs of a forward (× 3 with the backward) over the counted sequences."""
    forward = 2 * shape["params"] * tokens["computed"] + 4 * shape["layers"] * shape["hidden"] * tokens["squared"]
    return 3 * forward if training else forward


def run_worker(*args: str) -> dict:
    """Run this script as a worker in a fresh process; its result is the JSON it writes."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_path = Path(handle.name)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.run(
        [sys.executable, __file__, "--worker", *args, "--result", str(result_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if process.returncode != 0:
        sys.exit(f"worker {args[:2]} failed:\n{process.stderr[-3000:]}")
    result = json.loads(result_path.read_text())
    result_path.unlink()
    return result


def benchmark_backbone(
    name: str, backbone: str, train_csv: Path, dev_csv: Path, work: Path, batch_size: int, peaks, bf16_faster: bool
):
    from transformers.modelcard import make_markdown_table

    shape = model_shape(backbone)
    tiny = name == "tiny"
    pairs = len(pd.read_csv(train_csv))
    labels = pd.read_csv(dev_csv)["label"].to_numpy()
    rows = []
    train_peers = [
        *TRAIN_PEERS,
        *(BF16_TRAIN_PEERS[peer] for peer in TRAIN_PEERS if bf16_faster and peer in BF16_TRAIN_PEERS),
    ]
    for peer in train_peers:
        run_dir = work / f"{name}-{peer}"
        result = run_worker("train", peer, backbone, str(train_csv), str(run_dir), str(batch_size), str(int(tiny)))
        tokens = result["tokens"]
        flops = model_flops(tokens, shape, training=True) / result["train_runtime"]
        rows.append(
            {
                "training": TRAIN_LABELS[peer],
                "pairs/s": result["train_samples_per_second"],
                "precision": "bf16" if result["bf16"] else "fp32",
                "tokens/pair real / computed": f"{tokens['real'] / pairs:.1f} / {tokens['computed'] / pairs:.1f}",
                "GFLOP/s": flops / 1e9,
                "MFU fp32 / bf16": f"{flops / 1e9 / peaks['fp32']:.0%} / {flops / 1e9 / peaks['bf16']:.0%}",
            }
        )
    reference = {row["training"]: row["pairs/s"] for row in rows}
    for row in rows:
        row["hf_sts ×"] = reference["hf_sts"] / row["pairs/s"]
    print(f"\n### {name}: training, {pairs} pairs, 1 epoch, batch {batch_size}\n")
    print(_table(rows, make_markdown_table))

    exported = work / f"{name}-exported"
    for export_format, output in (("sequence-classification", exported), ("onnx", _onnx_dir(exported))):
        subprocess.run(
            [sys.executable, "-m", "hf_sts.cli.main", "export", str(work / f"{name}-hf_sts"), "--format"]
            + [export_format, "--output", str(output)]
            + (["--quantize", "int8"] if export_format == "onnx" else []),
            check=True,
            cwd=REPO_ROOT,
            capture_output=True,
        )
    infer_peers = [
        *INFER_PEERS,
        *(BF16_INFER_PEERS[peer] for peer in INFER_PEERS if bf16_faster and peer in BF16_INFER_PEERS),
    ]
    print(f"\n### {name}: inference, {len(labels)} dev pairs\n")
    print(
        _table(
            _inference_rows(
                infer_peers, INFER_LABELS, work / f"{name}-hf_sts", exported, dev_csv, labels, shape, peaks
            ),
            make_markdown_table,
        )
    )
    if not tiny:
        print(f'\n### {name}: zero-shot bi-encoder inference (mean pooling, "query: "), {len(labels)} dev pairs\n')
        rows = _inference_rows(
            list(BI_ENCODER_PEERS), BI_ENCODER_PEERS, Path(backbone), exported, dev_csv, labels, shape, peaks
        )
        print(_table(rows, make_markdown_table))


def _inference_rows(peers, names, model_dir: Path, exported: Path, dev_csv: Path, labels, shape, peaks) -> list[dict]:
    """Run each inference peer in turn: pairs/s, precision, tokens, FLOP rates, Pearson r against the labels and the
    largest score difference from the first peer's. ONNX rows reuse the token counts of the first (torch) row: the
    same tokenization and batches, run by ONNX Runtime, which no torch hook sees."""
    from scipy.stats import pearsonr

    rows, reference = [], None
    for peer in peers:
        result = run_worker("infer", peer, str(model_dir), str(exported), str(dev_csv))
        scores = np.asarray(result["scores"])
        reference = reference or {"scores": scores, "tokens": result["tokens"]}
        tokens, pairs = result["tokens"] or reference["tokens"], result["pairs"]
        flops = model_flops(tokens, shape, training=False) / result["runtime"]
        rows.append(
            {
                "inference": names[peer],
                "pairs/s": pairs / result["runtime"],
                "precision": "int8" if "int8" in peer else "bf16" if result["bf16"] else "fp32",
                "tokens/pair real / computed": f"{tokens['real'] / pairs:.1f} / {tokens['computed'] / pairs:.1f}",
                "GFLOP/s": flops / 1e9,
                "MFU fp32 / bf16": f"{flops / 1e9 / peaks['fp32']:.0%} / {flops / 1e9 / peaks['bf16']:.0%}",
                "Pearson r": float(pearsonr(np.clip(scores, 0, 5), labels[:pairs]).statistic),
                "max |Δ|": float(np.abs(scores - reference["scores"]).max()),
            }
        )
    for row in rows:
        row["hf_sts ×"] = rows[0]["pairs/s"] / row["pairs/s"]
    return rows


def _table(rows: list[dict], make_markdown_table) -> str:
    def cell(value):
        if isinstance(value, float):
            return f"{value:.2e}" if 0 < abs(value) < 1e-2 else f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
        return value

    return make_markdown_table([{key: cell(value) for key, value in row.items()} for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", help="a pretrained encoder folder (e.g. multilingual-e5-small)")
    parser.add_argument("--backbones", nargs="+", default=["tiny", "encoder"], choices=["tiny", "encoder"])
    parser.add_argument("--train_pairs", type=int, default=384, help="training pairs for the encoder (384)")
    parser.add_argument("--tiny_train_pairs", type=int, default=4000, help="training pairs for the tiny BERT")
    parser.add_argument("--infer_pairs", type=int, default=519, help="dev pairs scored (519: all)")
    parser.add_argument("--work_dir", help="where runs go (default: a temporary folder, removed)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, peer, *rest = args.worker
        if kind == "train":
            backbone, train_csv, run_dir, batch_size, tiny = rest
            result = train_worker(peer, backbone, Path(train_csv), Path(run_dir), int(batch_size), tiny == "1")
        else:
            result = infer_worker(peer, *map(Path, rest))
        Path(args.result).write_text(json.dumps(result))
        return
    if "encoder" in args.backbones and not args.encoder:
        parser.error("--encoder DIR is needed for the encoder backbone (or --backbones tiny)")

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work_dir or temporary)
        work.mkdir(parents=True, exist_ok=True)
        columns = ["sentence1", "sentence2", "label"]  # hf_sts' reader, in its schema
        train = read_sts_file(KLUE / "klue-sts-v1.1_train.csv").to_pandas()[columns]
        dev = read_sts_file(KLUE / "klue-sts-v1.1_dev.json").to_pandas()[columns]
        dev.head(args.infer_pairs).to_csv(work / "dev.csv", index=False)
        from hf_sts.utils.hardware import cpu_bf16_probe, native_bf16

        peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
        bf16_faster = native_bf16("cpu")
        probe = cpu_bf16_probe()
        print(
            f"{cpu_description()}\ntorch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}; matmul peak (2048²): fp32 {peaks['fp32']:.0f} GFLOP/s, "
            f"bf16 {peaks['bf16']:.1f} GFLOP/s; hf_sts' bf16 probe (768): {probe.speedup:.2f}x fp32, so bf16 is "
            f"{'faster: the peers also run in bf16' if bf16_faster else 'not faster here: every row is fp32 (or int8)'}"
        )
        for name in args.backbones:
            pairs = args.tiny_train_pairs if name == "tiny" else args.train_pairs
            train_csv = work / f"train-{name}.csv"
            train.head(pairs).to_csv(train_csv, index=False)
            if name == "tiny":
                backbone = work / "tiny-bert"
                build_tiny_backbone(train_csv, backbone)
            else:
                backbone = Path(args.encoder).resolve()
            batch_size = 32 if name == "tiny" else 16
            benchmark_backbone(name, str(backbone), train_csv, work / "dev.csv", work, batch_size, peaks, bf16_faster)


if __name__ == "__main__":
    main()
