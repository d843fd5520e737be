"""The `hf-sts` command (entry point `hf_sts.cli.main:main`), one module per command.

    hf-sts train RECIPE.json [--key value ...]          # as `python hf_sts/run.py`
    hf-sts train --config_file accelerate_config.yaml RECIPE.json [--key value ...]  # via `accelerate launch`
    hf-sts pretrain [ACCELERATE LAUNCH OPTIONS] RECIPE.json [--key value ...]  # MLM pretraining (TAPT)
    hf-sts search RECIPE.json --n-trials N --output_dir DIR [--sweep SWEEP.yaml] [--key value ...]
    hf-sts evaluate MODEL --validation_file FILE [--output_dir DIR] [--binary_threshold T] [--pooling mean]
    hf-sts predict MODEL --input FILE --output FILE [--with-sentences]
    hf-sts export RUN_DIR --format FORMAT --output DIR
    hf-sts ensemble --method METHOD --output DIR PREDICTIONS.csv ... [--test TEST.csv ...]
    hf-sts push OUTPUT_DIR --repo-id ORG/NAME [--private] [--revision BRANCH] [--space [ORG/SPACE]] [--dry-run]
    hf-sts demo MODEL [--host 127.0.0.1] [--port 7860] [--share false] [--device cpu]
    hf-sts describe FILE [FILE ...] [--tokenizer NAME_OR_PATH] [--max_seq_length N] [--output_dir DIR]
    hf-sts leaderboard OUTPUT_DIR [OUTPUT_DIR ...] [--metric eval_pearson] [--output FILE.md]
    hf-sts augment back-translate --input FILE --output FILE --model MT_MODEL --filter_model MODEL

`hf-sts --help` and `hf-sts COMMAND --help` import neither torch nor transformers: each command module declares its
arguments with the standard library only, and imports what it runs inside its `run` function. A bad recipe, data
file, model, run directory or prediction file ends the command with one line on stderr and exit status 2:
`hf-sts: error: ...`, for usage errors too.
"""
