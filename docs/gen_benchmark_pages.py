"""Put the measurement records of `benchmarks/` into the site, as they are in the repository.

Run by the `gen-files` plugin of `mkdocs build` (see `mkdocs.yml`); nothing is written to the repository. Every
`benchmarks/*.md` becomes the page `benchmarks/NAME.md` (`benchmarks/README.md`, the index of the records, becomes
`benchmarks/index.md`), and every `benchmarks/*.png` is copied beside them, so the records' relative links to one
another and to their plots work on the site as on GitHub. `benchmarks/SUMMARY.md` orders the section for
`literate-nav`: the index first, then the records in the order the index links them, then any record it does not
link, each under its title.
"""

import re
from pathlib import Path

import mkdocs_gen_files


ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "benchmarks"


def title(path: Path) -> str:
    """The record's first Markdown heading, without its `#` marks and backticks, else its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip().replace("`", "")
    return path.stem


records = {}
for path in sorted(RECORDS.glob("*.md")):
    name = "index.md" if path.name == "README.md" else path.name
    with mkdocs_gen_files.open(f"benchmarks/{name}", "w", encoding="utf-8") as page:
        page.write(path.read_text(encoding="utf-8"))
    mkdocs_gen_files.set_edit_path(f"benchmarks/{name}", path.relative_to(ROOT))
    if name != "index.md":
        records[name] = title(path)

for path in sorted(RECORDS.glob("*.png")):
    with mkdocs_gen_files.open(f"benchmarks/{path.name}", "wb") as image:
        image.write(path.read_bytes())

index = (RECORDS / "README.md").read_text(encoding="utf-8") if (RECORDS / "README.md").is_file() else ""
linked = [name for name in dict.fromkeys(re.findall(r"\]\(([\w.-]+\.md)\)", index)) if name in records]
order = linked + sorted(name for name in records if name not in linked)
with mkdocs_gen_files.open("benchmarks/SUMMARY.md", "w", encoding="utf-8") as nav_file:
    if (RECORDS / "README.md").is_file():
        nav_file.write("- [Overview](index.md)\n")
    nav_file.writelines(f"- [{records[name]}]({name})\n" for name in order)
