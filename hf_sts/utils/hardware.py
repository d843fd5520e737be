"""What the machine offers a run: the device and precision settings a run takes on it ([`machine_settings`]), native
bf16 on the CPU, and every core for a single CPU process.

- **Distributed on CPUs**: launched with `WORLD_SIZE > 1` on a machine without CUDA, a run uses the `gloo` backend
  on the CPU unless its `ddp_backend` is set. Without an accelerator, data loaders do not pin memory (pinning needs
  a device to copy to, and torch warns every epoch).

- **bf16 on a CPU** is fast only where the CPU has bf16 instructions: AVX512-BF16 (Intel Cooper Lake, Sapphire
  Rapids and later, not Ice Lake; AMD Zen 4 and later) or AMX (Intel Sapphire Rapids and later). Elsewhere PyTorch
  emulates it and a bf16 matmul runs slower than fp32 (measurements: `benchmarks/bf16_accuracy.md`,
  `benchmarks/speed.md`). Accelerate accepts `mixed_precision="bf16"` on any CPU, so hf_sts reads the CPU's features
  itself ([`cpu_has_native_bf16`], from PyTorch's cpuinfo) rather than guessing from the platform.
- **Threads**: `accelerate launch` gives each CPU process `OMP_NUM_THREADS` threads, 1 by default when it is not told
  the machine is CPU-only (no config, no `--cpu`), which leaves the other cores idle. [`use_every_core`] raises the
  thread count of a single CPU process launched that way to the cores it may run on; where accelerate was told
  (`--cpu`, `recipes/accelerate_cpu.yaml`), it chose the count itself and hf_sts keeps it.
"""

import logging
import os
from dataclasses import dataclass

import torch
from accelerate.utils import parse_flag_from_env


logger = logging.getLogger(__name__)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU executes bf16 natively (AVX512-BF16 or AMX tiles), as PyTorch's cpuinfo reads its features.

    Returns `False` where PyTorch cannot tell (an older build without these probes): bf16 is then not assumed.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


@dataclass(frozen=True)
class MachineSettings:
    """The device and precision settings of a run on this machine (see [`machine_settings`]): `use_cpu`, `bf16` and
    `ddp_backend` as the run should take them, `on_cpu` (no accelerator will run it: data loaders should not pin
    memory), and `notice`, one line saying what was turned off and why, or `None`."""

    use_cpu: bool
    bf16: bool
    ddp_backend: str | None
    on_cpu: bool
    notice: str | None = None


def machine_settings(use_cpu: bool, bf16: bool, ddp_backend: str | None) -> MachineSettings:
    """The settings a run asking for `use_cpu`, `bf16` and `ddp_backend` takes on this machine: `gloo` on the CPU for
    a distributed launch (`WORLD_SIZE > 1`) without CUDA and without a backend of its own; on a CPU, `bf16` kept
    where the CPU runs it natively ([`cpu_has_native_bf16`]; `use_cpu` then, as transformers takes bf16 without an
    accelerator only with it) and turned off, with a notice, where it does not, since emulated bf16 is slower than
    fp32."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and ddp_backend is None and not torch.cuda.is_available():
        ddp_backend, use_cpu = "gloo", True
    on_cpu = use_cpu or not torch.accelerator.is_available()
    notice = None
    if bf16 and on_cpu:
        if cpu_has_native_bf16():
            use_cpu = True
        else:
            bf16 = False
            notice = (
                "`bf16`: this CPU has no native bf16 (AVX512-BF16 or AMX), where bf16 runs slower than fp32; the run "
                "trains and predicts in fp32 (set `bf16` false to silence this)."
            )
    return MachineSettings(use_cpu, bf16, ddp_backend, on_cpu, notice)


def resolve_device(device: str | torch.device | None = None, error: type[Exception] = ValueError) -> torch.device:
    """The device to score or translate on: `device` (`"cpu"`, `"cuda"`, `"cuda:1"`, `"mps"`, ...) checked against
    this machine, or by default CUDA when there is one, else the CPU.

    Raises:
        `error`: one line naming `device`, if it is not a device name, or names a CUDA or MPS device this machine
            does not have.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise error(f"device {device!r} is not a device (cpu, cuda, cuda:1, mps, ...)") from None
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise error(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise error(f"device {device!r}: MPS is not available on this machine")
    return resolved


def native_bf16(device: torch.device | str) -> bool:
    """Whether bf16 autocast pays off on `device`: a CPU with [`cpu_has_native_bf16`], or a CUDA GPU that supports
    bf16 (compute capability 8.0 and later; `torch.cuda.is_bf16_supported`). Other devices: `False`."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return False


def autocast(device: torch.device | str, bf16: bool) -> torch.autocast:
    """`torch.autocast` to bf16 on `device`, enabled when `bf16` (disabled, it changes nothing). Under it, matmuls and
    linear layers run in bf16 while reductions, softmax and layer norms stay in fp32 (PyTorch's autocast op lists)."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16)


def usable_cores() -> int:
    """The number of CPU cores this process may run on (its affinity mask: a container's or `taskset`'s limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def use_every_core() -> int | None:
    """In a single CPU process that `accelerate launch` left at one thread, use every usable core.

    Accelerate sets `OMP_NUM_THREADS` for each process it launches: the number given by
    `--num_cpu_threads_per_process`, else the shell's `OMP_NUM_THREADS`, else 1 (unless it knows the machine is
    CPU-only, as with `--cpu` or `recipes/accelerate_cpu.yaml`, where it picks the core count itself). A lone process
    on a machine without an accelerator then trains on one core of many. This sets PyTorch's intra-op threads to
    [`usable_cores`] when the process was started by `accelerate launch` (`ACCELERATE_MIXED_PRECISION` is set) without
    being told the machine is CPU-only (`ACCELERATE_USE_CPU` is not true: when it is, one thread is what the shell's
    `OMP_NUM_THREADS` or `--num_cpu_threads_per_process` asked for, e.g. for runs side by side), is the only one
    (`WORLD_SIZE` 1), has no accelerator, and runs one thread; it says so in one line. Several processes keep
    accelerate's split of the cores.

    Returns:
        The new thread count, or `None` when nothing was changed.
    """
    launched = "ACCELERATE_MIXED_PRECISION" in os.environ
    told_cpu = parse_flag_from_env("ACCELERATE_USE_CPU")
    single = int(os.environ.get("WORLD_SIZE", "1")) == 1
    cores = usable_cores()
    one_thread = torch.get_num_threads() == 1
    if not (launched and not told_cpu and single and one_thread and cores > 1) or torch.accelerator.is_available():
        return None
    torch.set_num_threads(cores)
    logger.info(
        "accelerate launch gave this single CPU process 1 thread (OMP_NUM_THREADS=1); hf_sts uses all %d usable "
        "cores (to choose: --num_cpu_threads_per_process N, N > 1).",
        cores,
    )
    return cores


__all__ = ["autocast", "cpu_has_native_bf16", "native_bf16", "usable_cores", "use_every_core"]
