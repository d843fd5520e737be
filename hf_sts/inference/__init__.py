"""Scoring pairs with a trained model: `loading` (`load_model`: an hf_sts checkpoint, a LoRA adapter, an export or a
plain encoder zero-shot), `scoring` (the one length-sorted scoring path, used by training's evaluation, `hf-sts
predict`/`evaluate` and the demo), `onnx` (the ONNX graph of an export, run by onnxruntime: `--backend onnx`),
`report` (per-source Pearson r, worst pairs, plots), `files` (`hf-sts predict` and `hf-sts evaluate`), `mteb`
(MTEB-style result files of an evaluation)."""
