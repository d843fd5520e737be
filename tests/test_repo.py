import re

from .conftest import REPO_ROOT


def _readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command():
    train_command, test_command = _readme_commands()[:2]
    assert (
        "hf-sts train --config_file recipes/accelerate_cpu.yaml recipes/quickstart.json" in train_command
    )  # the fixture
    assert "pytest" in test_command
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines


def test_shipped_data_carries_attribution_and_licence():
    folder = REPO_ROOT / "recipes" / "data" / "klue-sts"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in readme and "Park" in readme
    assert "Attribution-ShareAlike 4.0 International" in (folder / "LICENSE-CC-BY-SA-4.0.md").read_text(
        encoding="utf-8"
    )
