"""What hf_sts reads off the machine: native bf16 on the CPU (detected, never assumed), and every core for a lone
process that `accelerate launch` left at one thread."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from hf_sts.inference.scoring import predict_scores
from hf_sts.training.parser import parse_args
from hf_sts.utils import hardware
from hf_sts.utils.hardware import cpu_has_native_bf16, usable_cores, use_every_core

from ..conftest import REPO_ROOT


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
        args = _cpu_recipe_args(tmp_path)
    assert args.bf16 is False
    assert "this CPU has no native bf16 (AVX512-BF16 or AMX)" in caplog.text


@pytest.mark.skipif(torch.accelerator.is_available(), reason="needs a machine without an accelerator")
def test_bf16_recipe_on_a_bf16_cpu_trains_in_bf16_on_the_cpu(tmp_path, monkeypatch, caplog):
    """On a CPU with native bf16 (simulated here), the CPU recipe keeps bf16 and runs on the CPU: transformers
    refuses bf16 without an accelerator unless `use_cpu` is set, which hf_sts sets."""
    monkeypatch.setattr("hf_sts.utils.hardware.cpu_has_native_bf16", lambda: True)
    with caplog.at_level(logging.WARNING, logger="hf_sts"):
        args = _cpu_recipe_args(tmp_path)
    assert args.bf16 is True and args.use_cpu is True
    assert "no native bf16" not in caplog.text


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16 (AVX512-BF16 or AMX)")
def test_bf16_recipe_keeps_bf16_and_scores_within_1e2_of_fp32(tmp_path, tiny_model, tokenizer, klue_dev):
    assert _cpu_recipe_args(tmp_path).bf16 is True
    model = tiny_model("bert", "cls")
    rows = klue_dev.select(range(32))
    first, second = rows["sentence1"][:], rows["sentence2"][:]
    fp32 = predict_scores(model, tokenizer, first, second, show_progress_bar=False, bf16=False)
    auto = predict_scores(model, tokenizer, first, second, show_progress_bar=False)
    assert not np.array_equal(auto, fp32)  # auto chose bf16 here
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
