"""Generate the API reference: one page per public module of `hf_sts`, and the navigation of those pages.

Run by the `gen-files` plugin of `mkdocs build` (see `mkdocs.yml`); nothing is written to the repository. This is
the mkdocstrings recipe (https://mkdocstrings.github.io/recipes/#automatic-code-reference-pages): every
`hf_sts/**/*.py` whose name does not start with `_` gets a page holding `::: dotted.module.path`, and a package's
`__init__.py` becomes the package's page (`index.md`). The pages follow whatever modules exist when the site builds.
"""

from pathlib import Path

import mkdocs_gen_files


ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hf_sts"

nav = mkdocs_gen_files.Nav()

for path in sorted(PACKAGE.rglob("*.py")):
    module_path = path.relative_to(ROOT).with_suffix("")
    doc_path = path.relative_to(ROOT).with_suffix(".md")
    parts = tuple(module_path.parts)
    if any(part.startswith("_") for part in parts[:-1]):
        continue  # a private package, and everything in it
    if parts[-1] == "__init__":
        parts = parts[:-1]
        doc_path = doc_path.with_name("index.md")
    elif parts[-1].startswith("_"):
        continue  # private modules (a leading underscore)
    full_doc_path = Path("reference", doc_path)

    nav[parts] = doc_path.as_posix()
    with mkdocs_gen_files.open(full_doc_path, "w") as page:
        page.write(f"::: {'.'.join(parts)}\n")
    mkdocs_gen_files.set_edit_path(full_doc_path, path.relative_to(ROOT))

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as nav_file:
    nav_file.writelines(nav.build_literate_nav())
