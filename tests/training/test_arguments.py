import json

import pytest

from hf_sts.errors import RecipeError
from hf_sts.training.parser import load_recipe, parse_args

from ..conftest import REPO_ROOT


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text(
        json.dumps(
            {
                "model_type": "bert",
                "train_file": "train.csv",
                "learning_rate": 1e-3,
                "loss": "l1+huber",
                "loss_weights": [1.0, 0.5],
                "head": "mlp",
                "head_hidden_sizes": [64, 32],
                "output_dir": str(tmp_path / "out"),
                "report_to": "none",
                "tokenizer_name": None,
            }
        )
    )
    return path


def test_recipe_values_and_overrides(recipe):
    model_args, data_args, training_args, effective = parse_args(
        [
            str(recipe),
            "--learning_rate=0.01",
            "--num-train-epochs",
            "2",
            "--add_swapped_pairs",
            "--head_hidden_sizes",
            "8",
        ]
    )
    assert model_args.head == "mlp" and model_args.head_hidden_sizes == [8]
    assert training_args.learning_rate == 0.01 and training_args.num_train_epochs == 2.0
    assert training_args.loss == "l1+huber" and training_args.loss_weights == [1.0, 0.5]
    assert data_args.add_swapped_pairs is True and data_args.train_file == ["train.csv"]
    assert training_args.metric_for_best_model == "pearson" and training_args.greater_is_better is True
    # The effective recipe is the file updated with the overrides, ready to be saved as recipe.json.
    assert effective["learning_rate"] == 0.01 and effective["num_train_epochs"] == 2.0
    assert effective["head_hidden_sizes"] == [8] and effective["loss_weights"] == [1.0, 0.5]
    json.dumps(effective)


def test_effective_recipe_drops_secrets(recipe, tmp_path):
    with_token = tmp_path / "token.json"
    with_token.write_text(json.dumps({**json.loads(recipe.read_text()), "hub_token": "hf_secret_in_file"}))
    model_args, _, training_args, effective = parse_args([str(with_token), "--token", "hf_secret_on_cli"])
    assert training_args.hub_token == "hf_secret_in_file" and model_args.token == "hf_secret_on_cli"
    assert "hf_secret" not in json.dumps(effective)


def test_unknown_key_in_recipe_names_file_and_key(recipe, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(recipe.read_text()), "learnig_rate": 1e-3}))
    with pytest.raises(RecipeError, match=r"bad\.json: unknown key 'learnig_rate'\. Did you mean 'learning_rate'\?"):
        parse_args([str(bad)])


def test_unknown_key_on_command_line(recipe):
    with pytest.raises(RecipeError, match=r"command line: unknown key 'epochs'"):
        parse_args([str(recipe), "--epochs=3"])


def test_wrong_type_names_file_and_key(recipe, tmp_path):
    bad = tmp_path / "typed.json"
    bad.write_text(json.dumps({**json.loads(recipe.read_text()), "learning_rate": "fast"}))
    with pytest.raises(RecipeError, match=r"typed\.json: `learning_rate`: expected a number, got 'fast'\.$"):
        parse_args([str(bad)])
    with pytest.raises(RecipeError, match=r"command line: argument --num_train_epochs.*invalid float value: 'many'"):
        parse_args([str(recipe), "--num_train_epochs", "many"])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("head_hidden_sizes", 64, r"`head_hidden_sizes`: expected a list of an integer, got 64"),
        ("seed", [1, 2], r"`seed`: expected a single value, not a list of an integer"),
        ("seed", 1.5, r"`seed`: expected an integer, got 1\.5"),
        ("add_swapped_pairs", "maybe", r"`add_swapped_pairs`: expected true or false, got 'maybe'"),
        ("log_on_each_node", "maybe", r"`log_on_each_node`: expected true or false, got 'maybe'"),  # has --no_
        ("head_pooling", "max", r"`head_pooling`: expected one of \['cls', 'mean'\], got 'max'"),
    ],
)
def test_recipe_values_are_checked_against_the_fields(recipe, tmp_path, key, value, message):
    bad = tmp_path / "typed.json"
    bad.write_text(json.dumps({**json.loads(recipe.read_text()), key: value}))
    with pytest.raises(RecipeError, match=r"typed\.json: " + message):
        parse_args([str(bad)])


def test_recipe_values_convert_as_on_the_command_line(recipe, tmp_path):
    path = tmp_path / "converted.json"
    values = {"num_train_epochs": 2, "learning_rate": "3e-4", "add_swapped_pairs": "true", "warmup_steps": 0.1}
    path.write_text(json.dumps({**json.loads(recipe.read_text()), **values}))
    _, data_args, training_args, effective = parse_args([str(path)])
    assert training_args.num_train_epochs == 2.0 and training_args.learning_rate == 3e-4
    assert data_args.add_swapped_pairs is True and training_args.warmup_steps == 0.1
    assert effective["learning_rate"] == "3e-4"  # recipe.json keeps the recipe as written


def test_flags_are_not_abbreviated_and_argument_checks_name_the_recipe(recipe, tmp_path):
    with pytest.raises(RecipeError, match=r"command line: unknown key 'learning'\. Did you mean 'learning_rate'\?"):
        parse_args([str(recipe), "--learning", "0.1"])
    bad = tmp_path / "strategies.json"
    values = {"load_best_model_at_end": True, "eval_strategy": "epoch", "save_strategy": "no"}
    bad.write_text(json.dumps({**json.loads(recipe.read_text()), **values}))
    with pytest.raises(RecipeError, match=r"strategies\.json: .*load_best_model_at_end") as caught:
        parse_args([str(bad)])
    assert "\n" not in str(caught.value)


def test_bad_loss_and_non_object_recipe(recipe, tmp_path):
    with pytest.raises(ValueError, match=r"Unknown loss 'l2'.*registered losses: \[.*'huber', 'l1', 'mnrl', 'mse'\]"):
        parse_args([str(recipe), "--loss", "l2"])
    with pytest.raises(ValueError, match=r"`loss_weights` has 1 weights but `loss='l1\+huber'` has 2 parts"):
        parse_args([str(recipe), "--loss_weights", "1"])
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(RecipeError, match=r"list\.json: a recipe must be a JSON object"):
        load_recipe(listing)


def test_every_help_is_written():
    from dataclasses import fields

    from hf_sts.training.parser import ARGUMENT_CLASSES

    for cls in ARGUMENT_CLASSES:
        for f in fields(cls):
            if f.init:
                assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


def test_key_none_unsets_a_recipe_key(recipe):
    model_args, _, training_args, effective = parse_args(
        [str(recipe), "--head", "none", "--loss_weights=null", "--loss", "mse", "--prompt", "query: "]
    )
    assert model_args.head is None  # unset, as if the recipe had no `head`: the config's default applies
    assert "head" not in model_args.head_config()
    assert training_args.loss_weights is None
    assert "head" not in effective and "loss_weights" not in effective
    assert model_args.prompt == effective["prompt"] == "query: "
    with pytest.raises(RecipeError, match=r"command line: unknown key 'haed'\. Did you mean 'head'\?"):
        parse_args([str(recipe), "--haed", "none"])


def test_pretrained_encoder_on_command_line_replaces_from_scratch_keys(caplog):
    quickstart = str(REPO_ROOT / "recipes" / "quickstart.json")
    with caplog.at_level("WARNING", logger="hf_sts.training.arguments"):
        model_args, _, _, effective = parse_args(
            [quickstart, "--model_name_or_path", "some/encoder", "--bf16", "false"]
        )
    assert model_args.model_name_or_path == "some/encoder"
    assert model_args.config_overrides is None and model_args.model_type is None
    assert not {"model_type", "config_overrides", "tokenizer_vocab_size"} & set(effective)
    assert effective["architecture"] == "bi-encoder"  # the rest of the recipe still applies
    notices = [record.getMessage() for record in caplog.records]
    assert len(notices) == 1 and "`model_type`, `config_overrides`, `tokenizer_vocab_size`" in notices[0]
    # Setting a from-scratch key explicitly next to a pretrained encoder is a conflict, not something to drop.
    with pytest.raises(RecipeError, match="`config_overrides` only applies to from-scratch models"):
        parse_args([quickstart, "--model_name_or_path", "some/encoder", "--config_overrides", "hidden_size=8"])
    # Without a command-line encoder, a recipe file's own keys are kept as written.
    model_args, _, _, _ = parse_args([quickstart])
    assert model_args.model_type == "bert" and model_args.config_overrides.startswith("hidden_size=128")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"per_device_train_batch_size": 0}, r"`per_device_train_batch_size` must be >= 1, got 0"),
        ({"per_device_eval_batch_size": -8}, r"`per_device_eval_batch_size` must be >= 1, got -8"),
        ({"gradient_accumulation_steps": 0}, r"`gradient_accumulation_steps` must be >= 1, got 0"),
        ({"warmup_steps": -0.1}, r"`warmup_steps` must be >= 0"),
        ({"learning_rate": None}, r"`learning_rate` is null; expected a number \(leave the key out"),
        ({"max_train_samples": 0}, r"`max_train_samples` must be >= 1 pair"),
        ({"max_seq_length": 0}, r"`max_seq_length` must be a number of tokens >= 1, got 0"),
        ({"architecture": "bi-encoder"}, r"`head`, `head_hidden_sizes`: a cross-encoder's head settings"),
    ],
)
def test_numbers_and_keys_a_run_cannot_use(recipe, tmp_path, values, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(recipe.read_text()), **values}))
    with pytest.raises(RecipeError, match=message):
        parse_args([str(bad)])


def test_output_dir_that_is_a_file(recipe, tmp_path):
    """(A missing `output_dir` is named when the run starts writing: `tests/cli/test_bad_input.py`.)"""
    (tmp_path / "taken").write_text("an earlier file")
    with pytest.raises(RecipeError, match=r"`output_dir` '.*taken' is a file; give a folder"):
        parse_args([str(recipe), "--output_dir", str(tmp_path / "taken")])
