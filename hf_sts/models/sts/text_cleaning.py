# Copyright 2026 The hf_sts Authors. Licensed under the Apache License, Version 2.0.
"""Text cleaning: named steps applied to every sentence before the model reads it.

A model's steps are stored in its config (`config.text_cleaning`, a list of step names) and applied wherever the
model reads text: in training, evaluation and prediction (`model.tokenize`), so `hf-sts predict` and
`AutoModel.from_pretrained(..., trust_remote_code=True)` clean as training did. This file imports only the standard
library (`emoji` when its step runs): `save_pretrained` copies it next to the weights with `configuration_sts.py`.

Steps live in one registry, `CLEANING_STEPS`, and run in the order the recipe lists them:

| name | what it does | from |
| --- | --- | --- |
| `emoji` | removes emoji (every Unicode emoji sequence: flags, skin tones, ZWJ sequences) | `emoji.replace_emoji` |
| `special_characters` | removes every character but Hangul (syllables and jamo), Latin letters, digits, whitespace and `, ? ! .` | the competition code's regex |
| `repeated_characters` | shortens a letter repeated 3+ times to 2 (`ㅋㅋㅋㅋ` -> `ㅋㅋ`, `하하하하` -> `하하`); digits stay (`1000`) | soynlp's `repeat_normalize` |
| `whitespace` | collapses runs of whitespace to one space and strips both ends | |

`repeated_characters` is the rule of soynlp's `repeat_normalize(num_repeats=2)` (Kim 2016,
https://github.com/lovit/soynlp, `soynlp/normalizer/_normalizer.py`), as a regex here: soynlp is no longer released
(last 2019), and its rule also shortens repeated digits (`1000` -> `100`), which this one leaves alone.
"""

import re
from collections.abc import Callable


CLEANING_STEPS: dict[str, Callable[[str], str]] = {}

# What `special_characters` keeps: Hangul syllables and jamo, Latin letters, digits, whitespace and `, ? ! .`.
SPECIAL_CHARACTERS = re.compile(r"[^가-힣ㄱ-ㅎㅏ-ㅣA-Za-z0-9\s,?!.]")
# A letter (not a digit or `_`) followed by 2 or more copies of itself.
REPEATED_LETTER = re.compile(r"([^\W\d_])\1{2,}")
WHITESPACE = re.compile(r"\s+")


def register_cleaning_step(name: str):
    """Decorator that adds a cleaning step `fn(text: str) -> str` to `CLEANING_STEPS` under `name`.

    A step must be deterministic and map one sentence to one (possibly empty) sentence. Models saved with a step
    need it registered wherever they are loaded: a step outside this file is unknown to
    `AutoModel.from_pretrained(..., trust_remote_code=True)` without hf_sts.

    Raises:
        ValueError: if `name` is already registered.
    """

    def decorator(fn: Callable[[str], str]) -> Callable[[str], str]:
        if name in CLEANING_STEPS:
            raise ValueError(f"A cleaning step named {name!r} is already registered.")
        CLEANING_STEPS[name] = fn
        return fn

    return decorator


@register_cleaning_step("emoji")
def remove_emoji(text: str) -> str:
    """`text` without emoji, as the `emoji` package finds them (`emoji.replace_emoji`, Unicode's emoji list).

    Raises:
        ImportError: when the `emoji` package is not installed (`pip install emoji`; hf_sts depends on it).
    """
    try:
        import emoji
    except ImportError:
        raise ImportError(
            "The `emoji` cleaning step needs the `emoji` package: `pip install emoji` (hf_sts installs it)."
        ) from None
    return emoji.replace_emoji(text, replace="")


@register_cleaning_step("special_characters")
def remove_special_characters(text: str) -> str:
    """`text` with every character removed but Hangul, Latin letters, digits, whitespace and `, ? ! .` (the competition
    code's special-character removal; `A/B` becomes `AB`: add `whitespace` after it to tidy the spaces it leaves)."""
    return SPECIAL_CHARACTERS.sub("", text)


@register_cleaning_step("repeated_characters")
def normalize_repeated_characters(text: str) -> str:
    """`text` with each letter repeated 3 or more times in a row cut to 2: `ㅋㅋㅋㅋㅋ` -> `ㅋㅋ`, `zzz` -> `zz`
    (soynlp's `repeat_normalize`, num_repeats=2; digits are kept as they are)."""
    return REPEATED_LETTER.sub(r"\1\1", text)


@register_cleaning_step("whitespace")
def normalize_whitespace(text: str) -> str:
    """`text` with every run of whitespace (spaces, tabs, line breaks, no-break spaces) made one space, and no
    leading or trailing whitespace."""
    return WHITESPACE.sub(" ", text).strip()


def check_cleaning_steps(steps) -> list[str]:
    """`steps` as a list of registered step names (`None` -> `[]`).

    Raises:
        ValueError: for an unknown step (listing the registered ones) or a step named twice.
    """
    steps = list(steps or [])
    unknown = [step for step in steps if step not in CLEANING_STEPS]
    if unknown:
        raise ValueError(f"Unknown `text_cleaning` step(s) {unknown}; registered steps: {sorted(CLEANING_STEPS)}.")
    repeated = sorted({step for step in steps if steps.count(step) > 1})
    if repeated:
        raise ValueError(f"`text_cleaning` names {repeated} more than once; list each step once, in order.")
    return steps


def clean_text(text: str, steps) -> str:
    """`text` after each step of `steps` (names in `CLEANING_STEPS`), in order; `text` itself for no steps."""
    for step in steps or ():
        text = CLEANING_STEPS[step](text)
    return text


def clean_texts(texts: list[str], steps) -> list[str]:
    """[`clean_text`] of every text, in order (a new list)."""
    return [clean_text(text, steps) for text in texts] if steps else list(texts)


__all__ = [
    "CLEANING_STEPS",
    "check_cleaning_steps",
    "clean_text",
    "clean_texts",
    "register_cleaning_step",
]
