"""The recipe parser: a recipe file and command-line overrides into the argument dataclasses.

Command-line `--key value` or `--key=value` (the form `wandb sweep` agents pass, lists as `--key=[a, b]`) override
the recipe; `--key none` (or `null`) unsets a recipe key, which then takes its default. A pretrained
`model_name_or_path` given on the command line replaces a recipe's from-scratch encoder: the recipe's
`FROM_SCRATCH_KEYS` no longer apply and are dropped, with one notice naming them. An unknown key is refused with the
closest known ones; credentials (`SECRET_KEYS`) are used but never written to `recipe.json`.
"""

import argparse
import ast
import difflib
import functools
import json
import logging
import os
import sys
import typing
from dataclasses import MISSING, fields
from enum import Enum
from pathlib import Path
from typing import Any

from transformers import HfArgumentParser, TrainingArguments
from transformers.hf_argparser import string_to_bool

from hf_sts.errors import RecipeError, read_json_object
from hf_sts.training.arguments import DataArguments, ModelArguments, StsTrainingArguments


logger = logging.getLogger(__name__)


ARGUMENT_CLASSES = (ModelArguments, DataArguments, StsTrainingArguments)


# Recipe keys holding credentials: used by the run, never written to recipe.json or a model card.
SECRET_KEYS = ("token", "hub_token")


# List keys a recipe may also give as one string (a one-item list).
ONE_OR_MORE_KEYS = ("train_file",)


# Values of `--key VALUE` that unset a recipe key (it takes its default).
UNSET_VALUES = ("none", "null")


# Recipe keys that describe a from-scratch encoder (or the tokenizer of the recipe's own encoder): dropped, with a
# notice, when the command line names a pretrained `model_name_or_path`.
FROM_SCRATCH_KEYS = ("model_type", "config_overrides", "tokenizer_vocab_size", "tokenizer_name")


class RecipeParser(HfArgumentParser):
    """`HfArgumentParser` over argument dataclasses (a run's [`ModelArguments`], [`DataArguments`] and
    [`StsTrainingArguments`] by default), with a recipe file as the defaults and the command line parsed once on top
    (the design of trl's `TrlParser`).

    Argument errors raise [`RecipeError`] instead of printing the usage and exiting; flags are never abbreviated
    (`--learning` is an unknown key, not `--learning_rate`).
    """

    def __init__(self, classes: tuple[type, ...] = ARGUMENT_CLASSES, prog: str = "hf_sts/run.py"):
        super().__init__(classes, prog=prog, usage="%(prog)s [RECIPE.json] [--key value ...]", allow_abbrev=False)
        self.classes = classes

    def error(self, message: str):
        raise RecipeError(f"command line: {message}")

    def set_defaults_with_recipe(self, recipe: dict[str, Any], origin: str) -> None:
        """Make the recipe's values the parser's defaults, each checked against its field's type and choices.

        Raises:
            RecipeError: naming `origin` and the key, for a value of the wrong type (a string for a number, a list
                for a single value, ...) or outside the field's choices.
        """
        for key, value in recipe.items():
            # A boolean field that defaults to true has a `--no_key` flag too, sharing the dest of `--key` (the
            # first action, whose type converts the value).
            actions = [action for action in self._actions if action.dest == key]
            if value is None and not _takes_none(key, self.classes):
                raise RecipeError(
                    f"{origin}: `{key}` is null; expected {_expected(actions[0])} (leave the key out for its default)."
                )
            default = _recipe_value(actions[0], key, value, origin)
            for action in actions:
                action.default, action.required = default, False


def make_parser() -> RecipeParser:
    """The parser of a run's arguments, without a recipe: [`RecipeParser`]."""
    return RecipeParser()


@functools.cache
def _field_types(classes: tuple[type, ...]) -> dict[str, Any]:
    """The declared type of every recipe key (from the classes' annotations: `HfArgumentParser` rewrites the
    `Field.type` of optional fields in place)."""
    return {key: hint for cls in classes for key, hint in typing.get_type_hints(cls).items()}


def _takes_none(key: str, classes: tuple[type, ...]) -> bool:
    """Whether the field `key` accepts `None` (its type is optional)."""
    return type(None) in typing.get_args(_field_types(classes)[key])


def _expected(action: argparse.Action) -> str:
    if action.choices is not None:
        return f"one of {list(action.choices)}"
    return {int: "an integer", float: "a number", string_to_bool: "true or false"}.get(action.type, "a string")


def _recipe_value(action: argparse.Action, key: str, value: Any, origin: str) -> Any:
    """A recipe value converted as argparse converts the same value on the command line (a JSON `3` for a float
    field is `3.0`; `"3e-4"` is `0.0003`); dicts pass as they are (`lr_scheduler_kwargs`, ...)."""
    if value is None:
        return None
    many = action.nargs in ("+", "*")
    if many and key in ONE_OR_MORE_KEYS and isinstance(value, str):
        value = [value]
    if many != isinstance(value, list):
        shape = "a list" if many else "a single value, not a list"
        raise RecipeError(f"{origin}: `{key}`: expected {shape} of {_expected(action)}, got {value!r}.")
    converted = []
    for item in value if many else [value]:
        if isinstance(item, dict) or action.type is None:
            converted.append(item)
            continue
        try:
            item = action.type(item if isinstance(item, str) else json.dumps(item))
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            raise RecipeError(f"{origin}: `{key}`: expected {_expected(action)}, got {value!r}.") from None
        if action.choices is not None and item not in action.choices:
            raise RecipeError(f"{origin}: `{key}`: expected {_expected(action)}, got {value!r}.")
        converted.append(item)
    return converted if many else converted[0]


@functools.cache
def recipe_keys(classes: tuple[type, ...] = ARGUMENT_CLASSES) -> frozenset[str]:
    """Every key a recipe may hold: the field names of the argument classes (a run's three by default)."""
    return frozenset(f.name for cls in classes for f in fields(cls) if f.init)


def recipe_defaults(classes: tuple[type, ...] = ARGUMENT_CLASSES) -> dict[str, Any]:
    """The default of every recipe key, from the fields of the argument dataclasses (a new dict each call)."""
    defaults = {}
    for cls in classes:
        for f in fields(cls):
            if f.default is not MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not MISSING:
                defaults[f.name] = f.default_factory()
    return defaults


def _unknown_key_error(origin: str, key: str, classes: tuple[type, ...], prog: str) -> RecipeError:
    close = difflib.get_close_matches(key, recipe_keys(classes), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    names = [cls.__name__ for cls in classes]
    return RecipeError(
        f"{origin}: unknown key {key!r}.{hint} Keys are the fields of {', '.join(names[:-1])} and {names[-1]} (see "
        f"`{prog} --help`)."
    )


def load_recipe(
    path: str | os.PathLike, classes: tuple[type, ...] = ARGUMENT_CLASSES, prog: str = "hf_sts/run.py"
) -> dict[str, Any]:
    """Read a recipe: a flat JSON object of argument names to values.

    Raises:
        RecipeError: if the file is missing, is not a JSON object, or holds an unknown key (named, with the closest
            valid key).
    """
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file.")
    recipe = read_json_object(path, RecipeError, "a recipe must be a JSON object of key: value")
    for key in recipe:
        if key not in recipe_keys(classes):
            raise _unknown_key_error(str(path), key, classes, prog)
    return recipe


def _flag_key(token: str, keys: frozenset[str]) -> str:
    """The recipe key of a command-line flag: `--head=mlp` -> `head`, `--no_fp16` -> `fp16` (`keys`: the recipe
    keys)."""
    key = token[2:].split("=", 1)[0].replace("-", "_")
    return key[3:] if key.startswith("no_") and key[3:] in keys else key


def _expand_list_values(argv: list[str]) -> list[str]:
    """`--key=[a, b]` (how `wandb sweep` agents pass list values) becomes `--key a b`; other tokens are kept."""
    tokens = []
    for token in argv:
        key, _, value = token.partition("=")
        if token.startswith("--") and value.startswith("[") and value.endswith("]"):
            try:
                items = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise RecipeError(f"command line: {key[2:]}: cannot read the list {value!r}.") from None
            tokens += [key, *(str(item) for item in items)]
        else:
            tokens.append(token)
    return tokens


def _split_unset(argv: list[str], keys: frozenset[str]) -> tuple[list[str], set[str]]:
    """Take `--key none` / `--key=none` (any case, or `null`) out of `argv`; returns the rest and the unset keys. The
    last mention of a key wins, as for any flag: `--key a --key none` unsets it, `--key none --key a` sets it."""
    groups: list[tuple[str | None, list[str]]] = []  # (flag key, its tokens), in order
    unset: set[str] = set()
    index = 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        key, equals, value = token.partition("=")
        takes_unset = (
            not equals
            and following is not None
            and following.lower() in UNSET_VALUES
            and (index + 2 == len(argv) or argv[index + 2].startswith("--"))
        )
        if token.startswith("--") and ((equals and value.lower() in UNSET_VALUES) or takes_unset):
            flag = _flag_key(key, keys)
            groups = [group for group in groups if group[0] != flag]
            unset.add(flag)
            index += 2 if takes_unset else 1
            continue
        if token.startswith("--"):
            unset.discard(_flag_key(key, keys))
            groups.append((_flag_key(key, keys), [token]))
        elif groups:
            groups[-1][1].append(token)
        else:
            groups.append((None, [token]))
        index += 1
    return [token for _, tokens in groups for token in tokens], unset


def _swap_encoder(recipe: dict[str, Any], cli_keys: set[str], origin: str) -> dict[str, Any]:
    """Drop the recipe's `FROM_SCRATCH_KEYS` when the command line names a pretrained `model_name_or_path` (and
    does not set those keys itself), with one notice naming them."""
    if "model_name_or_path" not in cli_keys:
        return recipe
    dropped = [key for key in FROM_SCRATCH_KEYS if key in recipe and key not in cli_keys]
    if dropped:
        logger.warning(
            "The command line's model_name_or_path replaces the encoder of %s: its %s no longer apply and are "
            "dropped.",
            origin,
            ", ".join(f"`{key}`" for key in dropped),
        )
    return {key: value for key, value in recipe.items() if key not in dropped}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def recipe_file(argv: list[str] | None = None) -> str | None:
    """The recipe file of `[RECIPE.json] [--key value ...]` (`argv` defaults to `sys.argv[1:]`), `None` without
    one: an input of the run, which it must not write over."""
    argv = sys.argv[1:] if argv is None else argv
    return argv[0] if argv and not argv[0].startswith("-") else None


def take_hub_token(model_args: ModelArguments, training_args: StsTrainingArguments) -> None:
    """Keep a Hub token given as `token` or `hub_token` off the disk: it moves into this process's `HF_TOKEN`
    environment variable (where `huggingface_hub` finds it for downloads and pushes), both arguments are blanked
    (the Trainer pickles its arguments into `training_args.bin` in every checkpoint), and the token is masked in
    `sys.argv` (wandb records the command line in its run files). Call it before the Trainer or wandb start.

    Raises:
        RecipeError: for two different tokens in `token` and `hub_token`.
    """
    tokens = {value for value in (model_args.token, training_args.hub_token) if value}
    if not tokens:
        return
    if len(tokens) > 1:
        raise RecipeError("`token` and `hub_token` name two different Hub tokens; give one.")
    token = tokens.pop()
    os.environ["HF_TOKEN"] = token
    model_args.token = training_args.hub_token = None
    sys.argv[:] = [argument.replace(token, "<HUB_TOKEN>") for argument in sys.argv]
    logger.info("The Hub token given in the arguments is used through HF_TOKEN and written nowhere.")


def parse_args(
    argv: list[str] | None = None, classes: tuple[type, ...] = ARGUMENT_CLASSES, prog: str = "hf_sts/run.py"
) -> tuple[Any, ...]:
    """Parse `[RECIPE.json] [--key value ...]` into the arguments of `classes` (a run's [`ModelArguments`],
    [`DataArguments`] and [`StsTrainingArguments`] by default): the recipe's values become the parser's defaults
    (checked against the fields' types), and the command line is parsed once on top.

    Returns:
        One instance of each of `classes`, then `recipe` (for a run: `(model_args, data_args, training_args,
        recipe)`), where `recipe` is the recipe file's keys updated with the command-line overrides (the run's
        effective recipe, saved as `recipe.json`), without the secrets of `SECRET_KEYS`.

    Raises:
        RecipeError: naming the recipe file or the command line, and the key, for an unknown key (with the closest
            valid one), a value of the wrong type, or arguments the argument classes reject.

    `--key none` (or `null`, any case) unsets `key`: the recipe's value is dropped and the key takes its default.
    A `--model_name_or_path` on the command line drops the recipe's `FROM_SCRATCH_KEYS` (see `_swap_encoder`).
    """
    keys = recipe_keys(classes)
    argv, unset = _split_unset(_expand_list_values(list(sys.argv[1:] if argv is None else argv)), keys)
    origin = "command line"
    recipe: dict[str, Any] = {}
    if argv and not argv[0].startswith("-"):
        origin = argv.pop(0)
        recipe = load_recipe(origin, classes, prog)
    flags = [token for token in argv if token.startswith("--") and token not in ("--help", "--")]
    cli_keys = {_flag_key(token, keys) for token in flags}
    for key in sorted(unset | cli_keys):
        if key not in keys:
            raise _unknown_key_error("command line", key, classes, prog)
    recipe = _swap_encoder({key: value for key, value in recipe.items() if key not in unset}, cli_keys, origin)
    parser = RecipeParser(classes, prog)
    parser.set_defaults_with_recipe(recipe, origin)
    try:
        *arguments, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    except RecipeError:
        raise
    except ValueError as error:  # a check of TrainingArguments.__post_init__, for instance
        raise RecipeError(f"{origin}: {str(error).strip().splitlines()[0]}") from None
    if remaining:
        raise RecipeError(f"command line: unexpected arguments {remaining}; use --key value.")
    parsed = {}
    for instance in arguments:
        parsed.update(instance.to_dict() if isinstance(instance, TrainingArguments) else vars(instance))
    effective = {**recipe, **{key: _plain(parsed[key]) for key in cli_keys}}
    for key in SECRET_KEYS:
        effective.pop(key, None)
    return (*arguments, effective)
