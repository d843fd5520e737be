"""`benchmarks/techniques.py`: the table's arithmetic, the ledger of finished runs and resuming from it (a run in the
ledger is not rerun), and the run arguments of each row. The runs themselves are stubbed: the measured ledger and
table are committed under `benchmarks/`."""

import importlib.util
import json
import shutil
import statistics
import sys

import pandas as pd
import pytest

from .conftest import REPO_ROOT


spec = importlib.util.spec_from_file_location("techniques", REPO_ROOT / "benchmarks" / "techniques.py")
techniques = importlib.util.module_from_spec(spec)
spec.loader.exec_module(techniques)


def finish(root, row, seed, pearson, seconds, cpu_seconds=None, machine=None):
    folder = root / techniques.folder_name(row) / (f"seed-{seed}" if seed is not None else "")
    folder.mkdir(parents=True, exist_ok=True)
    if seed is not None:
        (folder / "recipe.json").write_text(json.dumps({"num_train_epochs": 2.0, "seed": seed}))
    (folder / "all_results.json").write_text(json.dumps({"eval_pearson": pearson}))
    timing = {"wall_seconds": seconds} | ({"cpu_seconds": cpu_seconds} if cpu_seconds is not None else {})
    timing |= {"machine": machine} if machine is not None else {}
    (folder / "benchmark_time.json").write_text(json.dumps(timing))


def summary_args(tmp_path, *extra):
    return techniques.parse_args(
        ["--summary_only", "--ledger", str(tmp_path / "runs.csv"), "--table", str(tmp_path / "t.md"), *extra]
    )


def test_table_means_spreads_and_deltas(tmp_path):
    finish(tmp_path, "zero-shot", None, 0.776, 22)
    finish(tmp_path, "base", 42, 0.84, 600)  # recorded before CPU time was: left out of the CPU mean
    finish(tmp_path, "base", 7, 0.82, 660, cpu_seconds=1200)
    finish(tmp_path, "loss: L1", 42, 0.85, 630)
    finish(tmp_path, "loss: L1", 7, 0.86, 570)
    finish(tmp_path, "head: cls", 42, 0.80, 600)  # one seed: no spread
    for seed, spearman in ((42, 0.80), (7, 0.82)):  # base's KorSTS test evaluations, beside its run folders
        korsts = techniques.korsts_folder(tmp_path / "base" / f"seed-{seed}")
        korsts.mkdir()
        (korsts / "all_results.json").write_text(json.dumps({"eval_spearmanr": spearman}))
    table = techniques.write_summary(summary_args(tmp_path, "--output_dir", str(tmp_path)))
    rows = {row["technique"]: row for row in table.to_dict("records")}
    assert list(rows) == ["zero-shot", "base", "loss: L1", "head: cls"]
    assert rows["base"]["dev Pearson (mean ± std over seeds)"] == f"0.8300 ± {statistics.stdev([0.84, 0.82]):.4f}"
    assert rows["loss: L1"]["Δ vs base"] == "+0.0250" and rows["head: cls"]["Δ vs base"] == "-0.0300"
    assert rows["head: cls"]["dev Pearson (mean ± std over seeds)"] == "0.8000"
    # Seed sd pooled over base and L1 (one degree of freedom each): sqrt((0.0002 + 0.00005) / 2) = 0.01118, so
    # L1's SE is 0.01118 * sqrt(1/2 + 1/2) and the one-seed cls's 0.01118 * sqrt(1 + 1/2) = 0.01369.
    assert rows["loss: L1"]["Δ in SE"] == "+2.2" and rows["head: cls"]["Δ in SE"] == "-2.2"
    assert rows["base"]["Δ in SE"] == rows["zero-shot"]["Δ in SE"] == ""
    assert (
        rows["base"]["KorSTS test Spearman (mean)"] == "0.8100"
        and rows["loss: L1"]["KorSTS test Spearman (mean)"] == ""
    )
    assert rows["base"]["train time (min, mean)"] == "10.5" and rows["base"]["seeds"] == "42, 7"
    assert rows["base"]["CPU time (min, mean)"] == "20.0" and rows["loss: L1"]["CPU time (min, mean)"] == ""
    text = (tmp_path / "t.md").read_text()
    assert (
        "| loss: L1 " in text
        and "Budget (from the runs' recipes): all 11,668 pairs, 2 epochs of KLUE-STS train, in fp32; seeds 7, 42"
        in text
    )
    assert (
        "(0.0112, 2 degrees of freedom): a row differs from the base at the two-sided 5% level only beyond ±4.3"
        in text
    )
    assert (tmp_path / "t.png").stat().st_size > 0


def test_the_ledger_alone_rebuilds_the_table_and_never_takes_a_run_twice(tmp_path):
    """The run folders are scratch: once in the ledger, a run's line survives their loss, is not added again, and
    is not replaced by a later folder of the same (row, seed); a line's note is named above the table."""
    finish(tmp_path / "runs", "zero-shot", None, 0.776, 22)
    finish(tmp_path / "runs", "base", 42, 0.84, 600, cpu_seconds=1200, machine="Some CPU, 4 cores")
    techniques.write_summary(summary_args(tmp_path, "--output_dir", str(tmp_path / "runs")))
    first = (tmp_path / "runs.csv").read_text()
    assert techniques.read_ledger(tmp_path / "runs.csv")["machine"].tolist() == [pd.NA, "Some CPU, 4 cores"]
    finish(tmp_path / "runs", "base", 42, 0.10, 600)  # a rerun of a run the ledger holds: ignored
    techniques.write_summary(summary_args(tmp_path, "--output_dir", str(tmp_path / "runs")))
    assert (tmp_path / "runs.csv").read_text() == first
    with open(tmp_path / "runs.csv", "a") as ledger:
        ledger.write('"loss: L1",7,0.85,10.0,,,"all 11,668 pairs, 2 epochs","copied from a table"\n')
    shutil.rmtree(tmp_path / "runs")
    table = techniques.write_summary(summary_args(tmp_path))
    assert table["dev Pearson (mean ± std over seeds)"].tolist() == ["0.7760", "0.8400", "0.8500"]
    assert table["seeds"].tolist() == ["-", "42", "7"]
    header = (tmp_path / "t.md").read_text()
    notes = "\nNotes in the ledger:\n\n- loss: L1 seed 7: copied from a table\n"
    assert header.endswith(notes) and header.index("| loss: L1 ") < header.index(notes)  # under the table
    assert "The times were taken on: Some CPU, 4 cores; a machine not recorded for the runs without one" in header


def test_the_header_names_the_rows_off_the_common_budget_and_the_runs_of_each_note():
    """The budget above the table is the base's, then each row that ran on another; a note names its runs, or
    counts them when there are more than three."""
    budget, other = "all 11,668 pairs, 2 epochs", "all 11,668 pairs, 1 epoch"
    runs = pd.DataFrame(
        {
            "technique": ["zero-shot", "base", "base", "swapped pairs", "swapped pairs, equal steps"],
            "seed": pd.array([None, 42, 7, 42, 42], dtype="Int64"),
            "budget": [None, budget, budget, budget, other],
        }
    )
    assert techniques.budget_text(runs) == (
        f"{budget} of KLUE-STS train (off it: swapped pairs, equal steps at {other})"
    )
    assert techniques.budget_text(runs[runs["technique"] != "base"]) == (
        f"{other}; {budget} of KLUE-STS train"  # no base run: every budget
    )
    assert techniques.budget_text(runs.iloc[:1]) == "no fine-tuning run yet"
    assert techniques.runs_named(runs.iloc[:3]) == "zero-shot, base seed 42, base seed 7"
    assert techniques.runs_named(runs) == "5 runs"


def test_runs_in_the_ledger_or_finished_are_skipped_and_the_rest_run_in_order(tmp_path, monkeypatch):
    ledger = tmp_path / "runs.csv"
    ledger.write_text(",".join(techniques.LEDGER_COLUMNS) + '\n"loss: L1",42,0.85,10,,,,\n')
    finish(tmp_path, "zero-shot", None, 0.776, 22)
    finish(tmp_path, "base", 42, 0.84, 600)  # finished, not in the ledger yet: added, not rerun
    (tmp_path / "base" / "seed-7").mkdir(parents=True)  # stopped before its results: run again
    ran = []
    monkeypatch.setattr(techniques, "timed", lambda command, output_dir: ran.append(output_dir.relative_to(tmp_path)))
    evaluated = []
    monkeypatch.setattr(techniques, "evaluate_on_korsts", lambda model, output_dir: evaluated.append(model))
    args = techniques.parse_args(
        ["--model", "m", "--output_dir", str(tmp_path), "--ledger", str(ledger)]
        + ["--rows", "zero-shot", "base", "TAPT", "loss: L1"]
    )
    techniques.run_rows(args)  # TAPT without --tapt_model is skipped with a note
    assert [str(path) for path in ran] == ["base/seed-7", "loss__L1/seed-7"]
    assert evaluated == [str(tmp_path / "base" / "seed-7"), str(tmp_path / "loss__L1" / "seed-7")]  # each on KorSTS
    assert techniques.finished(techniques.read_ledger(ledger)) == {("loss: L1", 42), ("zero-shot", None), ("base", 42)}


def test_each_row_changes_only_its_technique():
    args = techniques.parse_args(["--model", "m", "--output_dir", "o", "--tapt_model", "t", "--num_train_epochs", "1"])
    base = techniques.run_argv("base", 42, args, REPO_ROOT / "o")
    assert base[:3] == [techniques.BASE_RECIPE, "--model_name_or_path", "m"] and "--num_train_epochs" in base
    assert "--bf16=false" in base  # one precision whatever the CPU
    tapt = techniques.run_argv("TAPT", 42, args, REPO_ROOT / "o")
    assert tapt[-2:] == ["--model_name_or_path", "t"]  # the last value wins: the TAPT folder replaces the encoder
    assert techniques.run_argv("loss: Huber", 42, args, REPO_ROOT / "o")[len(base) :] == ["--loss", "huber"]
    control = techniques.run_argv("swapped pairs, equal steps", 42, args, REPO_ROOT / "o")
    assert control[len(base) :] == ["--add_swapped_pairs", "true", "--num_train_epochs", "0.5"]  # after the budget
    steps = techniques.run_argv("base, twice the epochs", 42, args, REPO_ROOT / "o")
    assert steps[len(base) :] == ["--num_train_epochs", "2"]
    args.silver_dir = "silver"
    distilled = techniques.run_argv(techniques.DISTILLED, 42, args, REPO_ROOT / "o")
    assert distilled[0] == techniques.DISTILLED_RECIPE and distilled[len(base) : -1] == ["--train_datasets"]
    datasets = json.loads(distilled[-1])  # the recipe's datasets, its silver files from --silver_dir
    assert datasets["klue_sts"]["train_file"] == "recipes/data/klue-sts/klue-sts-v1.1_train.csv"
    assert datasets["silver"]["train_file"] == ["silver/klue_sts_knn.csv"]
    with pytest.raises(SystemExit):
        techniques.parse_args(["--model", "m", "--output_dir", "o", "--rows", "no such row"])


def test_a_run_records_its_wall_and_cpu_time(tmp_path):
    """`timed` runs the command and writes both times: CPU time counts the child's work, not the wall clock."""
    output_dir = tmp_path / "row" / "seed-1"
    output_dir.mkdir(parents=True)
    techniques.timed([sys.executable, "-c", "import time; sum(range(10**7)); time.sleep(0.5)"], output_dir)
    timing = json.loads((output_dir / "benchmark_time.json").read_text())
    assert timing["wall_seconds"] >= 0.5 and 0 < timing["cpu_seconds"] < timing["wall_seconds"]
    assert "cores" in timing["machine"]
    assert (tmp_path / "row" / "seed-1.log").is_file()


def test_the_tapt_line_names_the_pretraining_run_of_its_encoder(tmp_path):
    """The TAPT row's ledger note says which `hf-sts pretrain` run made its encoder (seed, steps, held-out
    perplexity), read from that folder; other rows, and an encoder that is no pretraining folder, get no note. A
    stage-2 row with data of its own names the stage-1 run, then its data."""
    encoder = tmp_path / "tapt_seed7"
    encoder.mkdir()
    (encoder / "recipe.json").write_text(json.dumps({"seed": 7, "mlm_probability": 0.15}))
    (encoder / "all_results.json").write_text(json.dumps({"train_steps": 224, "perplexity": 4.2571}))
    stage_1 = tmp_path / "nli_seed42"
    stage_1.mkdir()
    (stage_1 / "recipe.json").write_text(json.dumps({"seed": 42}))
    (stage_1 / "all_results.json").write_text(json.dumps({"train_runtime": 1992.0, "eval_pearson": 0.80951}))
    for row, model in [
        ("TAPT", str(encoder)),
        ("base", str(encoder)),
        ("TAPT", "intfloat/multilingual-e5-small"),
        (techniques.NLI_STS_KORSTS, str(stage_1)),
    ]:
        seed = 7 if model == str(encoder) else 42
        finish(tmp_path / "runs", row, seed, 0.84, 600)
        recipe = {"num_train_epochs": 2.0, "seed": seed, "model_name_or_path": model}
        (tmp_path / "runs" / techniques.folder_name(row) / f"seed-{seed}" / "recipe.json").write_text(
            json.dumps(recipe)
        )
    runs = techniques.ingest(tmp_path / "runs", tmp_path / "runs.csv").set_index(["technique", "seed"])
    assert (
        runs.loc[("TAPT", 7), "note"]
        == "encoder tapt_seed7: hf-sts pretrain seed 7, 224 steps, held-out perplexity 4.26"
    )
    assert pd.isna(runs.loc[("TAPT", 42), "note"]) and pd.isna(runs.loc[("base", 7), "note"])
    assert runs.loc[(techniques.NLI_STS_KORSTS, 42), "note"] == (
        "encoder nli_seed42: stage 1, hf-sts train seed 42, 33.2 min, dev Pearson 0.8095; "
        "KorSTS train's 5,749 pairs beside KLUE-STS train in stage 2, each epoch"
    )


def test_help_lists_every_row(capsys):
    with pytest.raises(SystemExit) as exit_info:
        techniques.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "undersampling (bucket 0 to 50%)" in " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.slow  # two `hf-sts ensemble` processes
def test_the_average_row_is_the_mean_of_its_members_runs_after_they_ran(tmp_path, monkeypatch, capsys):
    """`cross-encoder + bi-encoder average` runs its members first (base, bi-encoder), then scores the mean of their
    dev and KorSTS test predictions: Pearson r and Spearman rho of the mean, their times summed, their budget."""
    labels = [0.0, 1.0, 2.5, 3.0, 4.2, 5.0]
    scores = {"base": [0.4, 1.5, 2.0, 3.6, 3.9, 4.1], "bi-encoder": [1.0, 0.5, 2.9, 2.2, 4.8, 4.6]}
    ran = []

    def fake_run(command, output_dir):  # a member run: its predictions on both files, its time
        ran.append(output_dir.relative_to(tmp_path))
        row = "base" if output_dir.parent.name == "base" else "bi-encoder"
        finish(tmp_path, row, 42, 0.8, 600 if row == "base" else 900, cpu_seconds=1000)
        for folder in (output_dir, techniques.korsts_folder(output_dir)):
            folder.mkdir(exist_ok=True)
            frame = pd.DataFrame({"id": [f"p{i}" for i in range(6)], "label": labels, "prediction": scores[row]})
            frame.to_csv(folder / "eval_predictions.csv", index=False)

    monkeypatch.setattr(techniques, "timed", fake_run)
    monkeypatch.setattr(techniques, "evaluate_on_korsts", lambda model, output_dir: None)
    ledger = tmp_path / "runs.csv"
    args = techniques.parse_args(
        ["--model", "m", "--output_dir", str(tmp_path), "--ledger", str(ledger), "--seeds", "42"]
        + ["--rows", techniques.AVERAGE]
    )
    techniques.run_rows(args)
    assert [str(path) for path in ran] == ["base/seed-42", "bi-encoder/seed-42"]
    mean = [(a + b) / 2 for a, b in zip(scores["base"], scores["bi-encoder"], strict=True)]
    runs = techniques.read_ledger(ledger).set_index("technique")
    average = runs.loc[techniques.AVERAGE]
    assert average["pearson"] == pytest.approx(statistics.correlation(mean, labels), rel=1e-5)
    ranks = statistics.correlation(pd.Series(mean).rank().tolist(), pd.Series(labels).rank().tolist())  # Spearman
    assert average["korsts_spearman"] == pytest.approx(ranks, rel=1e-5)
    assert average["minutes"] == 25 and average["cpu_minutes"] == pytest.approx(2000 / 60, abs=1e-4)  # summed
    assert average["budget"] == "all 11,668 pairs, 2 epochs" and average["seed"] == 42
    # Members whose predictions are not on this machine (in the ledger from another one): skipped with a line.
    args.output_dir = str(tmp_path / "elsewhere")
    ledger.write_text(",".join(techniques.LEDGER_COLUMNS) + '\nbase,7,0.85,10,,,,\n"bi-encoder",7,0.86,10,,,,\n')
    args.seeds = [7]
    techniques.run_rows(args)
    assert techniques.finished(techniques.read_ledger(ledger)) == {("base", 7), ("bi-encoder", 7)}
    assert "skipping 'cross-encoder + bi-encoder average' seed 7: its members' predictions are not there" in (
        capsys.readouterr().out
    )
