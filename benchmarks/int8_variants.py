"""How int8 dynamic quantization settings move an exported model's scores, and how fast each graph scores: the
evidence behind `hf-sts export --quantize int8`'s choices (int8 weights first on AVX2, the Pearson check).

    hf-sts export RUN --format onnx --output EXPORT          # the fp32 graph, onnx/model.onnx
    python benchmarks/int8_variants.py EXPORT --validation_file recipes/data/klue-sts/klue-sts-v1.1_dev.json

Each variant is `onnxruntime.quantization.quantize_dynamic` of `onnx/model.onnx` (MatMul nodes, per-channel
symmetric weights, asymmetric uint8 activations, as `hf-sts export` quantizes) with one setting changed, scored on
the labeled pairs through hf_sts' scoring path (`OnnxScorer`, `predict_scores`): pairs/s (best of `--repeats`, after
one warm-up batch), Pearson r of the clipped scores with the labels, and max / mean |Δ| against the fp32 graph. The
rows that quantize one kind of layer only (the query, key, value, attention output, feed-forward in and out
projections of every layer) and one layer only show where the error comes from. Run it alone on the machine.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from scipy.stats import pearsonr

from hf_sts.data.readers import read_sts_file
from hf_sts.inference.loading import load_model
from hf_sts.inference.onnx import OnnxScorer, cpu_isa, onnx_session
from hf_sts.inference.scoring import predict_scores
from hf_sts.metrics import clip_scores


# The six weight MatMuls of a BERT-style layer, in graph order.
LAYER_KINDS = ("query", "key", "value", "attention output", "feed-forward in", "feed-forward out")


def weight_matmuls(path: Path) -> list[str]:
    """The names of the graph's MatMul nodes whose second input is a weight (an initializer), in graph order."""
    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {initializer.name for initializer in graph.initializer}
    return [node.name for node in graph.node if node.op_type == "MatMul" and node.input[1] in weights]


def variants(names: list[str], layers: int) -> dict[str, dict]:
    """Variant name -> `quantize_dynamic` keyword arguments (over the export's own settings)."""
    kinds = {kind: names[index :: len(LAYER_KINDS)] for index, kind in enumerate(LAYER_KINDS)}
    rows = {
        "uint8 weights (sentence-transformers' AVX2 choice)": {"weight_type": QuantType.QUInt8},
        "int8 weights (hf_sts' first choice)": {"weight_type": QuantType.QInt8},
        "int8 weights, reduce_range": {"weight_type": QuantType.QInt8, "reduce_range": True},
        "uint8 weights, per tensor": {"weight_type": QuantType.QUInt8, "per_channel": False},
    }
    for kind, nodes in kinds.items():
        rows[f"int8 weights, {kind} only"] = {"weight_type": QuantType.QInt8, "nodes_to_quantize": nodes}
    for layer in (0, layers // 2, layers - 1):
        nodes = names[layer * len(LAYER_KINDS) : (layer + 1) * len(LAYER_KINDS)]
        rows[f"int8 weights, layer {layer} only"] = {"weight_type": QuantType.QInt8, "nodes_to_quantize": nodes}
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="a folder written by `hf-sts export --format onnx`")
    parser.add_argument("--validation_file", required=True, help="labeled pairs to score")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per graph; the best counts (2)")
    args = parser.parse_args(argv)
    export = Path(args.export)
    fp32_graph = export / "onnx" / "model.onnx"
    data = read_sts_file(args.validation_file)
    first, second, labels = data["sentence1"][:], data["sentence2"][:], np.asarray(data["label"][:])
    loaded = load_model(str(export), backend="onnx", onnx_file="model.onnx")
    config, tokenizer, length = loaded.model.config, loaded.tokenizer, loaded.max_seq_length

    def score(graph: Path) -> tuple[np.ndarray, float]:
        scorer = OnnxScorer(onnx_session(graph), config)
        predict_scores(scorer, tokenizer, first[:64], second[:64], length, show_progress_bar=False, bf16=False)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            scores = predict_scores(scorer, tokenizer, first, second, length, show_progress_bar=False, bf16=False)
            best = min(best, time.perf_counter() - start)
        return clip_scores(scores), len(first) / best

    reference, rate = score(fp32_graph)
    print(f"{export}: {len(first)} pairs of {args.validation_file}; CPU instruction set {cpu_isa()}")
    print("| graph | pairs/s | Pearson r | max abs Δ | mean abs Δ |\n| --- | --- | --- | --- | --- |")
    print(f"| fp32 (`model.onnx`) | {rate:.1f} | {pearsonr(reference, labels).statistic:.4f} | 0 | 0 |")
    names = weight_matmuls(fp32_graph)
    layers = len(names) // len(LAYER_KINDS)
    with tempfile.TemporaryDirectory() as scratch:
        for name, settings in variants(names, layers).items():
            target = Path(scratch) / "model_int8.onnx"
            options = {"per_channel": True, "reduce_range": False, **settings}
            quantize_dynamic(
                fp32_graph,
                target,
                op_types_to_quantize=["MatMul"],
                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
                **options,
            )
            scores, rate = score(target)
            delta = np.abs(scores - reference)
            pearson = pearsonr(scores, labels).statistic
            print(f"| {name} | {rate:.1f} | {pearson:.4f} | {delta.max():.3f} | {delta.mean():.4f} |", flush=True)
            target.unlink()


if __name__ == "__main__":
    main()
