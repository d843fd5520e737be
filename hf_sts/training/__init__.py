"""Fine-tuning: `arguments` (the recipe's argument dataclasses), `parser` (recipes and overrides), `losses`, `trainer`
(`StsTrainer`), `builder` (tokenizer and model), `output_dir` (the run folder's lifecycle), `setup` (a recipe into
checked data), `fit` (train, save, score), `cv` (out-of-fold cross-validation), `search` (Optuna), `card` (the model
card), `tracking` (wandb)."""
