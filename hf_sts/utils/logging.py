"""The `hf-sts` command.

    hf-sts train RECIPE.json [--key value ...]          # as `python hf_sts/run.py`; see run.py
    hf-sts train --config_file accelerate_config.yaml RECIPE.json [--key value ...]  # via `accelerate launch`
    hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]  # MLM pretraining (TAPT); pretrain.py
    hf-sts export RUN_DIR --format FORMAT --output DIR  # see export.py
    hf-sts ensemble --method METHOD --output DIR PREDICTIONS.csv ... [--test TEST.csv ...]  # see ensemble.py
    hf-sts push OUTPUT_DIR --repo-id ORG/NAME [--private] [--revision BRANCH] [--space [ORG/SPACE]] [--dry-run]  # hub.py
    hf-sts search RECIPE.json --n-trials N --output_dir DIR [--sweep SWEEP.yaml] [--key value ...]  # search.py
    hf-sts evaluate MODEL --validation_file FILE [--output_dir DIR] [--binary_threshold T] [--pooling mean]  # predict.py
    hf-sts predict MODEL --input FILE --output FILE [--with-sentences]  # see predict.py
    hf-sts augment back-translate --input FILE --output FILE --model MT_MODEL --filter_model MODEL  # see augment.py
    hf-sts leaderboard OUTPUT_DIR [OUTPUT_DIR ...] [--metric eval_pearson] [--output FILE.md]  # leaderboard.py
    hf-sts describe FILE [FILE ...] [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--output_dir DIR]  # describe.py
    hf-sts demo MODEL [--host 127.0.0.1] [--port 7860] [--share false] [--device cpu]  # a page; see demo.py

A bad recipe, data file, model, run directory or prediction file ends the command with one line on stderr and exit
status 2: `hf-sts: error: ...`, for usage errors too (`train` as well, which is `hf_sts/run.py`).
"""

import logging
import sys


def configure_logging(library_level: int = logging.WARNING, main_process: bool = True) -> None:
    """Log to stdout, once per process: transformers and datasets at `library_level`, hf_sts' own loggers (the
    `hf_sts` package logger and its children) at INFO on the main process and at `library_level` elsewhere."""
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)]
    )
    datasets.utils.logging.set_verbosity(library_level)
    transformers.utils.logging.set_verbosity(library_level)
    logging.getLogger("hf_sts").setLevel(logging.INFO if main_process else library_level)
