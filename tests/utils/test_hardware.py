"""What hf_sts reads off the machine: native bf16 on the CPU (detected, never assumed; `bf16: auto` measured), and
every core for a lone process that `accelerate launch` left at one thread."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_sts.inference.scoring import predict_scores
from hf_sts.training.parser import parse_args
from hf_sts.utils import hardware
from hf_sts.utils.hardware import cpu_has_native_bf16, usable_cores, use_every_core

from ..conftest import REPO_ROOT, refusal_line


CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16 = cpu_has_native_bf16()


def _cpu_flags() -> set[str]:
    for line in CPUINFO.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not CPUINFO.is_file(), reason="needs Linux's /proc/cpuinfo to read the CPU's flags")
def test_bf16_detection_agrees_with_the_cpu_flags():
    flags = _cpu_flags()
    assert NATIVE_BF16 == bool(flags & {"avx512_bf16", "amx_bf16", "amx_tile"})


def _cpu_recipe_args(tmp_path, *overrides):
    argv = [str(REPO_ROOT / "recipes/quickstart.json"), "--output_dir", str(tmp_path / "out"), *overrides]
    return parse_args(argv)[2]


@pytest.mark.skipif(NATIVE_BF16, reason="this CPU runs bf16 natively")
def test_bf16_recipe_runs_fp32_on_a_cpu_without_bf16(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hf_sts"):
        args = _cpu_recipe_args(tmp_path)  # `bf16: auto`
        forced = _cpu_recipe_args(tmp_path, "--bf16", "true")
    assert args.bf16 is False and forced.bf16 is False
    assert "this CPU has no bf16 instructions (AVX512-BF16 or AMX), so bf16 would be emulated" in caplog.text
    assert "this CPU has no native bf16 (AVX512-BF16 or AMX)" in caplog.text


@pytest.mark.skipif(torch.accelerator.is_available(), reason="needs a machine without an accelerator")
@pytest.mark.parametrize("speedup", [0.53, 2.2])
def test_bf16_auto_recipe_trains_in_the_faster_precision(tmp_path, monkeypatch, caplog, speedup):
    """On a CPU with bf16 instructions (simulated here), the CPU recipe's `bf16: auto` takes what the timed probe
    finds faster (faked here: bf16 at 0.53x fp32, as on an Intel Xeon listing avx512_bf16, or 2.2x, as on an AMD
    EPYC), says so in one line, and with bf16 runs on the CPU: transformers refuses bf16 without an accelerator
    unless `use_cpu` is set, which hf_sts sets."""
    monkeypatch.setattr("hf_sts.utils.hardware.cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(hardware, "_probe", lambda size: hardware.Bf16Probe(size, 50.0, 50.0 * speedup))
    with caplog.at_level(logging.WARNING, logger="hf_sts"):
        args = _cpu_recipe_args(tmp_path)
    assert args.bf16 is (speedup > 1) and args.use_cpu is (speedup > 1)
    lines = [line for line in caplog.text.splitlines() if "`bf16` auto" in line]
    assert len(lines) == 1 and f"{speedup:.2f}x the fp32 rate" in lines[0], caplog.text
    assert lines[0].endswith(f"trains and predicts in {'bf16' if speedup > 1 else 'fp32'}.")


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")
def test_bf16_scores_within_1e2_of_fp32(tiny_model, tokenizer, klue_dev):
    model = tiny_model("bert", "cls")
    rows = klue_dev.select(range(32))
    first, second = rows["sentence1"][:], rows["sentence2"][:]
    fp32 = predict_scores(model, tokenizer, first, second, show_progress_bar=False, bf16=False)
    auto = predict_scores(model, tokenizer, first, second, show_progress_bar=False, bf16=True)
    assert not np.array_equal(auto, fp32)  # bf16 changes the scores
    np.testing.assert_allclose(auto, fp32, atol=1e-2)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.skipif(
    usable_cores() < 2 or torch.accelerator.is_available(), reason="needs a CPU-only machine, 2+ cores"
)
def test_a_lone_launched_cpu_process_uses_every_core(monkeypatch, one_thread, caplog):
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert use_every_core() is None  # not launched by accelerate: the thread count is the user's
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert use_every_core() is None  # several processes share the cores as accelerate split them
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    assert use_every_core() is None  # `--cpu` or the CPU config: accelerate chose 1 because the shell asked for it
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("ACCELERATE_USE_CPU", "False")
    with caplog.at_level(logging.INFO, logger="hf_sts"):
        assert use_every_core() == usable_cores()
    assert torch.get_num_threads() == usable_cores()
    assert f"hf_sts uses all {usable_cores()} usable cores" in caplog.text


def test_machine_settings_on_a_cpu_machine(monkeypatch):
    """What a run's device settings become without an accelerator: gloo for a distributed launch, no pinned memory,
    and bf16 kept only where the CPU runs it natively, else turned off with a notice."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    distributed = hardware.machine_settings(use_cpu=False, bf16=False, ddp_backend=None)
    assert (distributed.ddp_backend, distributed.use_cpu, distributed.on_cpu) == ("gloo", True, True)
    assert hardware.machine_settings(use_cpu=False, bf16=False, ddp_backend="mpi").ddp_backend == "mpi"
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    emulated = hardware.machine_settings(use_cpu=False, bf16=True, ddp_backend=None)
    assert not emulated.bf16 and "no native bf16" in emulated.notice
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    native = hardware.machine_settings(use_cpu=False, bf16=True, ddp_backend=None)
    assert native.bf16 and native.use_cpu and native.notice is None


@pytest.mark.parametrize("speedup", [0.5, 2.0])
def test_bf16_auto_follows_the_probe_not_the_flags(monkeypatch, speedup):
    """`bf16: auto` on a CPU with bf16 instructions takes bf16 where the timed probe finds it faster, fp32 where it
    finds it slower (as on an Intel Xeon listing avx512_bf16 whose bf16 matmuls ran at half the fp32 rate), and
    says which in one line with both rates; on a CPU without the instructions, fp32 without measuring."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(hardware, "_probe", lambda hidden_size: hardware.Bf16Probe(hidden_size, 50.0, 50.0 * speedup))
    settings = hardware.machine_settings(use_cpu=False, bf16="auto", ddp_backend=None)
    faster = speedup >= hardware.BF16_MIN_SPEEDUP
    assert settings.bf16 is faster and settings.use_cpu is faster
    assert f"bf16 matmuls run at {speedup:.2f}x the fp32 rate ({50 * speedup:.1f} against 50.0 GFLOP/s)" in (
        settings.notice
    )
    assert settings.notice.endswith(f"the run trains and predicts in {'bf16' if faster else 'fp32'}.")
    assert hardware.native_bf16("cpu", hidden_size=384) is faster
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(hardware, "_probe", None)  # not called
    emulated = hardware.machine_settings(use_cpu=False, bf16="auto", ddp_backend=None)
    assert not emulated.bf16 and "no bf16 instructions" in emulated.notice


def test_the_probe_measures_both_precisions_once_per_size(caplog):
    hardware._probe.cache_clear()
    with caplog.at_level(logging.INFO, logger="hf_sts"):
        probe = hardware.cpu_bf16_probe(64)
        assert hardware.cpu_bf16_probe(64.0) is probe  # cached
    assert probe.fp32_gflops > 0 and probe.bf16_gflops > 0
    assert caplog.text.count("bf16 probe (hidden size 64") == 1


@pytest.mark.parametrize(
    ("value", "setting"), [(True, True), ("false", False), ("AUTO", "auto"), ("yes", True), (None, False)]
)
def test_bf16_settings_read_as_written(value, setting):
    assert hardware.bf16_setting(value) == setting


def test_a_bf16_setting_that_is_not_one_is_one_line(capsys):
    line = refusal_line(["train", "recipes/quickstart.json", "--bf16", "sometimes", "--output_dir", "/tmp/x"], capsys)
    assert "`bf16` 'sometimes': expected true, false or auto" in line
