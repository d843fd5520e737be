"""Train, evaluate and predict with an hf_sts model from a recipe.

    accelerate launch hf_sts/run.py recipes/quickstart.json [--key value ...]
    python hf_sts/run.py recipes/quickstart.json --output_dir outputs/run1 --num_train_epochs=2
    hf-sts train recipes/quickstart.json

Steps run when their data is there (`do_train`, `do_eval`, `do_predict` set to false turn one off). Outputs in
`output_dir`: the model (`config.json`, `model.safetensors`, code files), tokenizer files, `recipe.json`,
`all_results.json`, `eval_predictions.csv`, `submission.csv` (with `test_file`) and the model card `README.md`.
"""

import json
import logging
import os
import sys


logger = logging.getLogger("hf_sts.run")


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the recipe given as `argv` (`[RECIPE.json] [--key value ...]`, default `sys.argv[1:]`).

    Returns:
        The metrics also written to `all_results.json` (on every process).

    Raises:
        hf_sts.arguments.RecipeError, hf_sts.data.DataFormatError: for a bad recipe, override or data file.
    """
    import datasets
    import transformers
    from transformers import DataCollatorWithPadding, set_seed

    from hf_sts.arguments import RecipeError, parse_args
    from hf_sts.build import build_model, load_tokenizer
    from hf_sts.data import (
        BiEncoderCollator,
        add_swapped_pairs,
        load_sts_datasets,
        tokenize_pairs,
        write_predictions,
        write_submission,
    )
    from hf_sts.metrics import compute_metrics
    from hf_sts.trainer import StsTrainer

    model_args, data_args, training_args, recipe = parse_args(argv)
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", handlers=[logging.StreamHandler(sys.stdout)]
    )
    # Library logs at the level the arguments ask for (WARNING by default); hf_sts' own progress notes at INFO on
    # the main process, as the transformers example scripts do.
    log_level = training_args.get_process_log_level()
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    logger.setLevel(logging.INFO if training_args.should_log else log_level)
    set_seed(training_args.seed)

    raw = load_sts_datasets(
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        test_file=data_args.test_file,
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        validation_split_percentage=data_args.validation_split_percentage,
        seed=training_args.seed,
    )
    do_train = training_args.do_train is not False and "train" in raw
    do_eval = training_args.do_eval is not False and "validation" in raw
    do_predict = training_args.do_predict is not False and "test" in raw
    if training_args.eval_strategy != "no" and do_train and not do_eval:
        raise RecipeError(
            f"eval_strategy={training_args.eval_strategy.value!r} needs validation data: give `validation_file` or "
            "`validation_split_percentage` > 0, or set `eval_strategy` to 'no'."
        )
    if do_train and data_args.max_train_samples is not None:
        raw["train"] = raw["train"].select(range(min(data_args.max_train_samples, len(raw["train"]))))
    if do_eval and data_args.max_eval_samples is not None:
        raw["validation"] = raw["validation"].select(range(min(data_args.max_eval_samples, len(raw["validation"]))))
    if do_train and data_args.add_swapped_pairs:
        raw["train"] = add_swapped_pairs(raw["train"])
    os.makedirs(training_args.output_dir, exist_ok=True)

    train_sentences = raw["train"]["sentence1"][:] + raw["train"]["sentence2"][:] if do_train else None
    tokenizer = load_tokenizer(model_args, training_args, train_sentences)
    model = build_model(model_args, data_args, tokenizer)
    if model_args.use_lora:
        from hf_sts.lora import apply_lora

        model = apply_lora(model, model_args)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("Parameters: %s trainable of %s (%.2f%%).", f"{trainable:,}", f"{total:,}", 100 * trainable / total)

    with training_args.main_process_first(desc="tokenizing"):
        encoded = {
            split: tokenize_pairs(
                raw[split],
                tokenizer,
                data_args.max_seq_length,
                data_args.preprocessing_num_workers,
                architecture=model_args.architecture,
            )
            for split, wanted in (("train", do_train), ("validation", do_eval), ("test", do_predict))
            if wanted
        }
    trainer = StsTrainer(
        model=model,
        args=training_args,
        train_dataset=encoded.get("train"),
        eval_dataset=encoded.get("validation"),
        processing_class=tokenizer,
        data_collator=BiEncoderCollator(tokenizer)
        if model_args.architecture == "bi-encoder"
        else DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
    )
    main_process = trainer.is_world_process_zero()
    if main_process:
        with open(os.path.join(training_args.output_dir, "recipe.json"), "w", encoding="utf-8") as file:
            json.dump(recipe, file, indent=2, ensure_ascii=False)

    metrics: dict[str, float] = {}
    if do_train:
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        if model_args.use_lora:
            _finish_lora(trainer, tokenizer, model_args.save_adapter_only)
        else:
            trainer.save_model()
        metrics.update(train_result.metrics, train_samples=len(encoded["train"]))
        trainer.log_metrics("train", train_result.metrics)
        trainer.save_state()
    if do_eval:
        output = trainer.predict(encoded["validation"], metric_key_prefix="eval")
        eval_metrics = {**output.metrics, "eval_samples": len(encoded["validation"])}
        metrics.update(eval_metrics)
        trainer.log_metrics("eval", eval_metrics)
        if main_process:
            write_predictions(
                raw["validation"], output.predictions, os.path.join(training_args.output_dir, "eval_predictions.csv")
            )
    if do_predict:
        output = trainer.predict(encoded["test"], metric_key_prefix="test")
        if main_process:
            write_submission(raw["test"], output.predictions, os.path.join(training_args.output_dir, "submission.csv"))
    trainer.save_metrics("all", metrics, combined=False)
    if do_train:
        trainer.create_model_card()
        if training_args.push_to_hub:
            trainer.push_to_hub()
    return metrics


def _finish_lora(trainer, tokenizer, save_adapter_only: bool) -> None:
    """Write a LoRA run's adapter to `output_dir/adapter/`, and to the root too with `save_adapter_only`; otherwise
    merge the adapters into the backbone and make the merged model the one saved to the root and evaluated."""
    from hf_sts.lora import ADAPTER_DIR, save_adapter

    output_dir = trainer.args.output_dir
    if trainer.is_world_process_zero():
        for folder in [os.path.join(output_dir, ADAPTER_DIR)] + ([output_dir] if save_adapter_only else []):
            save_adapter(trainer.model, tokenizer, folder)
    if not save_adapter_only:
        trainer.model = trainer.model_wrapped = trainer.model.merge_and_unload()
        trainer.save_model()


def cli() -> None:
    """Run `main`, turning a bad recipe, override or data file into one line on stderr and exit status 2."""
    from hf_sts.arguments import RecipeError
    from hf_sts.data import DataFormatError

    try:
        main()
    except (RecipeError, DataFormatError) as error:
        print(f"hf_sts: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
