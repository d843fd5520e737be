"""Train, evaluate and predict with an hf_sts model from a recipe.

    accelerate launch hf_sts/run.py recipes/quickstart.json [--key value ...]
    python hf_sts/run.py recipes/quickstart.json --output_dir outputs/run1 --num_train_epochs=2
    hf-sts train recipes/quickstart.json

Steps run when their data is there (`do_train`, `do_eval`, `do_predict` set to false turn one off). Outputs in
`output_dir`: the model (`config.json`, `model.safetensors`, code files), tokenizer files, `recipe.json`,
`all_results.json`, `eval_predictions.csv`, `submission.csv` (with `test_file`) and the model card `README.md`.

The steps live in `hf_sts.training`: `setup.prepare` (parse, check, load the data), `fit.fit` (train, save, score),
`cv.cross_validate` (`num_folds`).
"""

import os

from hf_sts.data.pairs import training_pairs
from hf_sts.data.wordpiece import train_sentences
from hf_sts.data.writers import write_submission
from hf_sts.errors import exit_on_error
from hf_sts.training.builder import load_tokenizer
from hf_sts.training.cv import cross_validate
from hf_sts.training.fit import fit
from hf_sts.training.setup import prepare
from hf_sts.training.tracking import finish_wandb, wandb_callbacks


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the recipe given as `argv` (`[RECIPE.json] [--key value ...]`, default `sys.argv[1:]`): one model trained,
    evaluated, predicted, carded and pushed, or one model per fold when the recipe sets `num_folds` (see
    `hf_sts.training.cv.cross_validate`).

    Returns:
        The metrics written to `all_results.json` (by the main process; every process returns them).

    Raises:
        hf_sts.errors.HfStsError: for a bad recipe, override or data file (`RecipeError`, `DataFormatError`).
    """
    setup = prepare(argv)
    model_args, data_args, training_args, splits = setup.model_args, setup.data_args, setup.training_args, setup.splits
    callbacks = wandb_callbacks(training_args, setup.recipe)
    try:
        if data_args.num_folds:
            return cross_validate(
                model_args, data_args, training_args, splits, setup.fold_plan, callbacks, setup.tokenizer
            )
        if "train" in splits:
            splits["train"] = training_pairs(splits["train"], data_args, training_args.seed)
        sentences = train_sentences(splits.get("train"), model_args.text_cleaning)
        tokenizer = load_tokenizer(model_args, training_args, sentences, setup.tokenizer)
        outcome = fit(model_args, data_args, training_args, tokenizer, splits, callbacks)
        trainer = outcome.trainer
        if "test" in splits and trainer.is_world_process_zero():
            path = os.path.join(training_args.output_dir, "submission.csv")
            write_submission(splits["test"], outcome.predictions["test"], path)
        trainer.save_metrics("all", outcome.metrics, combined=False)
        if "train" in splits:
            trainer.create_model_card()
            if training_args.push_to_hub:
                trainer.push_to_hub()
        return outcome.metrics
    finally:
        finish_wandb(training_args)


if __name__ == "__main__":
    with exit_on_error():  # a bad recipe, override or data file: one line on stderr, exit status 2
        main()
