"""Masked-language-model pretraining on the task's own text: task-adaptive pretraining (TAPT).

    hf-sts pretrain recipes/tapt/multilingual_e5_small.json [--key value ...]
    accelerate launch hf_sts/pretrain.py recipes/tapt/multilingual_e5_small.json [--key value ...]

TAPT (Gururangan et al. 2020, "Don't Stop Pretraining: Adapt Language Models to Domains and Tasks") continues an
encoder's MLM training on the unlabeled sentences of the task before fine-tuning on its labels. This is transformers'
`examples/pytorch/language-modeling/run_mlm.py` on the Trainer, with hf_sts' data readers and recipes: the text is
the sentences of the STS training files (`train_file`), the unlabeled sentences of other STS files where the recipe
opts in (`unlabeled_file`: validation or test pairs, labels never read), and extra text (`text_file`: one sentence
per line, KLUE-NLI JSON, KorSTS TSV; `dataset_name`: a Hub dataset's `train` split). The start is a pretrained
encoder (`model_name_or_path`; an MLM head is added to one that has none, such as multilingual-e5-small) or a
from-scratch one (`model_type`, `config_overrides` and a WordPiece tokenizer trained on the text).

Outputs in `output_dir`: the `AutoModelForMaskedLM` model and its tokenizer (a folder `hf_sts/run.py` fine-tunes with
`--model_name_or_path output_dir`), `recipe.json`, `all_results.json` (`train_loss`, `eval_loss`, `perplexity`), the
card `README.md` (corpus and steps) and `corpus.json` (the text's sources and counts).
"""

import json
import math
from pathlib import Path

from transformers import DataCollatorForLanguageModeling

from hf_sts.errors import exit_on_error
from hf_sts.pretraining.builder import build_mlm_model
from hf_sts.pretraining.card import write_pretraining_card
from hf_sts.pretraining.corpus import tokenize_text
from hf_sts.pretraining.setup import prepare
from hf_sts.pretraining.trainer import MlmTrainer
from hf_sts.training.builder import freeze_word_embeddings, load_tokenizer
from hf_sts.utils.write_guard import write_text


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the pretraining recipe `argv` (`[RECIPE.json] [--key value ...]`, default `sys.argv[1:]`): the model
    trained on the text, saved with its tokenizer, evaluated on the held-out sentences, and carded.

    Returns:
        The metrics written to `all_results.json`: `train_loss`, `eval_loss`, `perplexity` (with a held-out slice),
        the step and sentence counts, and the Trainer's runtime figures.

    Raises:
        hf_sts.errors.HfStsError: for a bad recipe, override or text file (one line; nothing written).
    """
    setup = prepare(argv)
    args, training_args, corpus = setup.args, setup.training_args, setup.corpus
    tokenizer = load_tokenizer(args, training_args, corpus.train, setup.tokenizer)
    model = build_mlm_model(args, tokenizer)
    if args.freeze_embeddings:
        freeze_word_embeddings(model)
    train_dataset = tokenize_text(corpus.train, tokenizer, args, training_args)
    eval_dataset = tokenize_text(corpus.validation, tokenizer, args, training_args) if corpus.validation else None
    # Whole-word masking replaces every selected word with the mask token (transformers does not support random
    # replacement there, and would say so in a warning); token masking keeps BERT's 80/10/10.
    replace = {"mask_replace_prob": 1.0, "random_replace_prob": 0.0} if args.whole_word_mask else {}
    collator = DataCollatorForLanguageModeling(
        tokenizer,
        mlm_probability=args.mlm_probability,
        whole_word_mask=args.whole_word_mask,
        seed=training_args.seed,
        **replace,
    )
    trainer = MlmTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=collator,
        sparse_prediction=args.sparse_prediction,
    )
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model()
    trainer.save_state()
    metrics = {
        **train_result.metrics,
        "train_steps": trainer.state.global_step,
        "train_sentences": len(corpus.train),
        "train_blocks": len(train_dataset),
    }
    if eval_dataset is not None:
        eval_metrics = trainer.evaluate()
        eval_metrics["perplexity"] = math.exp(min(eval_metrics["eval_loss"], 700.0))
        eval_metrics["eval_sentences"] = len(corpus.validation)
        trainer.log_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    trainer.save_metrics("all", metrics, combined=False)
    if trainer.is_world_process_zero():
        write_text(
            Path(training_args.output_dir, "corpus.json"),
            json.dumps({"sources": corpus.sources, "total": corpus.total}, indent=2, ensure_ascii=False),
        )
        write_pretraining_card(training_args.output_dir)
    if training_args.push_to_hub:
        trainer.push_to_hub()
    return metrics


if __name__ == "__main__":
    with exit_on_error():  # a bad recipe, override or text file: one line on stderr, exit status 2
        main()
