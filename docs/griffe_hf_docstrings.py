"""A Griffe extension for the API reference: Hugging Face-style parameter lines, rewritten for the Google parser.

hf_sts documents parameters as transformers does, ``name (`type`, *optional*, defaults to `value`): description``.
The Google-style parser that mkdocstrings uses reads the whole parenthesis as the type, so the reference would show
``"`int`, *optional*, defaults to `1`"`` as a type. In the ``Args:``/``Parameters:``/``Attributes:`` sections of
every docstring, this extension turns such a line into ``name (type): *Optional, defaults to `value`.*
description`` (and ``name (`type`, *optional*).``, a line without a description, into ``name (type): *Optional.*``)
before the docstring is parsed. The source files are not touched: mkdocs loads this file
(``extensions`` in ``mkdocs.yml``).
"""

import re

from griffe import Extension, Object


SECTIONS = re.compile(
    r"(Args|Arguments|Parameters|Params|Attributes|Other Parameters|Keyword Args|Keyword Arguments):"
)
ITEM = re.compile(r"(?P<indent>\s+)(?P<names>\*{0,2}[A-Za-z_][\w, *]*?)\s*\(")
OPTIONAL = re.compile(r",?\s*\*optional\*")
DEFAULT = re.compile(r",?\s*defaults? to\s+(?P<value>.+)$", re.IGNORECASE)


def _closing(text: str, start: int) -> int | None:
    """Index of the parenthesis that closes the one at `start`, else None."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None


def rewrite_item(line: str) -> str:
    """One parameter line, HF style -> Google style (other lines are returned as they are)."""
    match = ITEM.match(line)
    if not match:
        return line
    opening = match.end() - 1
    closing = _closing(line, opening)
    if closing is None:
        return line
    after = line[closing + 1 :]
    if after.strip() == ".":  # `name (`type`, *optional*).`: no description
        after = ":"
    if not after.startswith(":"):
        return line
    kind = line[opening + 1 : closing]
    notes = []
    if OPTIONAL.search(kind):
        kind = OPTIONAL.sub("", kind)
        notes.append("Optional")
    default = DEFAULT.search(kind)
    if default:
        kind = kind[: default.start()]
        notes.append(f"defaults to {default.group('value').strip()}")
    if not notes and "`" not in kind and after != ":":
        return line
    kind = kind.strip().strip(",").strip().replace("`", "")
    description = after[1:].strip()
    note = ", ".join(notes)
    note = f"*{note[0].upper()}{note[1:]}.* " if note else ""
    head = f"{match.group('indent')}{match.group('names')}" + (f" ({kind})" if kind else "")
    return f"{head}: {note}{description}".rstrip()


def rewrite(docstring: str) -> str:
    """Rewrite the parameter lines of the parameter sections of `docstring`."""
    lines = docstring.splitlines()
    section_indent = None
    for number, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if SECTIONS.fullmatch(line.strip()):
            section_indent = indent
        elif section_indent is not None and line.strip() and indent <= section_indent:
            section_indent = None  # the section ended
        elif section_indent is not None:
            lines[number] = rewrite_item(line)
    return "\n".join(lines)


class HfDocstrings(Extension):
    """Rewrite Hugging Face-style parameter lines in every docstring before it is parsed."""

    def on_object(self, *, obj: Object, **kwargs) -> None:
        if obj.docstring is not None and not obj.is_alias:
            obj.docstring.value = rewrite(obj.docstring.value)
