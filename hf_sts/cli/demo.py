"""`hf-sts demo MODEL [--host 127.0.0.1] [--port 7860] [--share false] [--device cpu] [--backend onnx]`: a Gradio
page scoring pairs with a model (see `hf_sts.tools.demo`)."""

import argparse

from hf_sts.cli.options import add_backend_arguments, boolean


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="hf_sts run output_dir, checkpoint, LoRA adapter folder, export, or Hub id")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0: every one)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (7860)")
    parser.add_argument(
        "--share", type=boolean, default=False, metavar="{true,false}", help="also a public Gradio link (false)"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    add_backend_arguments(parser)


def run(args: argparse.Namespace) -> None:
    from hf_sts.tools.demo import serve

    serve(
        args.model,
        host=args.host,
        port=args.port,
        share=args.share,
        device=args.device,
        backend=args.backend,
        onnx_file=args.onnx_file,
    )
