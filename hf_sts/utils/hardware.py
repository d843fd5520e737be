"""What the machine offers a run: the device and precision settings a run takes on it ([`machine_settings`]), native
bf16 on the CPU, and every core for a single CPU process.

- **Distributed on CPUs**: launched with `WORLD_SIZE > 1` on a machine without CUDA, a run uses the `gloo` backend
  on the CPU unless its `ddp_backend` is set. Without an accelerator, data loaders do not pin memory (pinning needs
  a device to copy to, and torch warns every epoch).

- **bf16 on a CPU** can only be fast where the CPU has bf16 instructions: AVX512-BF16 (Intel Cooper Lake, Sapphire
  Rapids and later, not Ice Lake; AMD Zen 4 and later) or AMX (Intel Sapphire Rapids and later). Elsewhere PyTorch
  emulates it and a bf16 matmul runs slower than fp32. Even with the instructions it is not always faster (an Intel
  Xeon listing `avx512_bf16` ran bf16 matmuls at half its fp32 rate; measurements: `benchmarks/speed.md`), so
  `bf16: auto` decides by measurement: a short timed probe of matmuls in both precisions ([`cpu_bf16_probe`], run
  once per process and size, logged in one line), bf16 only where it runs at least `BF16_MIN_SPEEDUP` times the fp32
  rate ([`native_bf16`]). `bf16: true` keeps its meaning: bf16 where the CPU has the instructions
  ([`cpu_has_native_bf16`], from PyTorch's cpuinfo), fp32 with a notice where it would be emulated.
- **Threads**: `accelerate launch` gives each CPU process `OMP_NUM_THREADS` threads, 1 by default when it is not told
  the machine is CPU-only (no config, no `--cpu`), which leaves the other cores idle. [`use_every_core`] raises the
  thread count of a single CPU process launched that way to the cores it may run on; where accelerate was told
  (`--cpu`, `recipes/accelerate_cpu.yaml`), it chose the count itself and hf_sts keeps it.
"""

import functools
import logging
import os
import time
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


# `bf16: auto` takes bf16 on a CPU only where its matmuls run this many times the fp32 rate: autocast also casts the
# weights and activations at every layer, which the probe's bare matmuls do not pay.
BF16_MIN_SPEEDUP = 1.2
# The hidden size the probe multiplies at when the model's is not known yet (the training arguments are parsed before
# the model is built): between multilingual-e5-small's 384 and roberta-large's 1024.
PROBE_HIDDEN_SIZE = 768
PROBE_ROWS = 128  # tokens per probe matmul
PROBE_REPEATS = 3


@dataclass(frozen=True)
class Bf16Probe:
    """What [`cpu_bf16_probe`] measured: the rates of `(PROBE_ROWS, hidden_size) @ (hidden_size, hidden_size)` matmuls
    in fp32 and in bf16, in GFLOP/s (best of interleaved repeats, on this process's threads)."""

    hidden_size: int
    fp32_gflops: float
    bf16_gflops: float

    @property
    def speedup(self) -> float:
        """bf16's rate over fp32's (above 1: bf16 is faster)."""
        return self.bf16_gflops / self.fp32_gflops


def cpu_bf16_probe(hidden_size: int = PROBE_HIDDEN_SIZE) -> Bf16Probe:
    """Time matmuls of `hidden_size` in fp32 and bf16 on this CPU and log the two rates in one line: each precision
    once, and, unless bf16 is already clearly slower (emulated bf16 runs tens of times slower), `PROBE_REPEATS`
    interleaved rounds more with the best of each kept, so that a busy moment slows both. Takes well under a second;
    cached per process and size.

    Args:
        hidden_size: the model's hidden size (the matmuls are `(PROBE_ROWS, hidden_size) @ (hidden_size,
            hidden_size)`, a linear layer over a batch of tokens).

    Returns:
        A [`Bf16Probe`].
    """
    return _probe(int(hidden_size))


@functools.lru_cache(maxsize=8)
def _probe(hidden_size: int) -> Bf16Probe:
    generator = torch.Generator().manual_seed(0)
    fp32 = (
        torch.randn(PROBE_ROWS, hidden_size, generator=generator),
        torch.randn(hidden_size, hidden_size, generator=generator),
    )
    operands = {"fp32": fp32, "bf16": tuple(tensor.bfloat16() for tensor in fp32)}
    flops = 2 * PROBE_ROWS * hidden_size * hidden_size

    def seconds(name: str, calls: int = 1) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            torch.matmul(*operands[name])
        return (time.perf_counter() - start) / calls

    with torch.inference_mode():
        for name in operands:
            seconds(name)  # warm-up: kernels chosen, caches filled
        best = {name: seconds(name) for name in operands}
        if best["bf16"] < 2 * best["fp32"]:  # close: measure again, interleaved, about 5 ms per timing
            calls = {name: max(1, int(0.005 / max(best[name], 1e-6))) for name in operands}
            for _ in range(PROBE_REPEATS):
                for name in operands:
                    best[name] = min(best[name], seconds(name, calls[name]))
    probe = Bf16Probe(hidden_size, flops / best["fp32"] / 1e9, flops / best["bf16"] / 1e9)
    logger.info(
        "bf16 probe (hidden size %d, %d threads): bf16 matmuls at %.1f GFLOP/s, fp32 at %.1f (%.2fx).",
        hidden_size,
        torch.get_num_threads(),
        probe.bf16_gflops,
        probe.fp32_gflops,
        probe.speedup,
    )
    return probe


def bf16_setting(value: bool | str | None) -> bool | str:
    """A `bf16` setting as written in a recipe or on a command line: `True`, `False` (also `"true"`/`"false"`,
    `"yes"`/`"no"`, `"1"`/`"0"`, any case; `None` is `False`) or `"auto"` (decided by [`native_bf16`]).

    Raises:
        ValueError: for anything else, naming the value.
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if text in ("true", "yes", "1", "y", "t", "on"):
        return True
    if text in ("false", "no", "0", "n", "f", "off"):
        return False
    raise ValueError(f"`bf16` {value!r}: expected true, false or auto")


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


def machine_settings(use_cpu: bool, bf16: bool | str, ddp_backend: str | None) -> MachineSettings:
    """The settings a run asking for `use_cpu`, `bf16` and `ddp_backend` takes on this machine: `gloo` on the CPU for
    a distributed launch (`WORLD_SIZE > 1`) without CUDA and without a backend of its own; `bf16="auto"` decided by
    [`native_bf16`] on the device the run trains on (on a CPU, one line says what the probe measured and what the
    run takes); `bf16=True` on a CPU kept where the CPU runs it natively ([`cpu_has_native_bf16`]) and turned off,
    with a notice, where it does not, since emulated bf16 is slower than fp32. bf16 on a CPU sets `use_cpu`, as
    transformers takes bf16 without an accelerator only with it."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and ddp_backend is None and not torch.cuda.is_available():
        ddp_backend, use_cpu = "gloo", True
    on_cpu = use_cpu or not torch.accelerator.is_available()
    notice = None
    if bf16 == "auto":
        bf16 = native_bf16("cpu" if on_cpu else torch.accelerator.current_accelerator())
        if on_cpu:
            use_cpu = use_cpu or bf16
            if cpu_has_native_bf16():
                probe = cpu_bf16_probe()
                measured = (
                    f"on this CPU bf16 matmuls run at {probe.speedup:.2f}x the fp32 rate ({probe.bf16_gflops:.1f} "
                    f"against {probe.fp32_gflops:.1f} GFLOP/s)"
                )
            else:
                measured = "this CPU has no bf16 instructions (AVX512-BF16 or AMX), so bf16 would be emulated"
            notice = f"`bf16` auto: {measured}; the run trains and predicts in {'bf16' if bf16 else 'fp32'}."
    elif bf16 and on_cpu:
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


def native_bf16(device: torch.device | str, hidden_size: int = PROBE_HIDDEN_SIZE) -> bool:
    """Whether bf16 autocast is faster than fp32 on `device` (`bf16: auto`, `--precision auto`), decided on the
    machine at hand: on a CPU, one with bf16 instructions ([`cpu_has_native_bf16`]; without them bf16 is emulated,
    slower, and not measured) where [`cpu_bf16_probe`] at `hidden_size` (the model's) finds bf16 at least
    `BF16_MIN_SPEEDUP` times the fp32 rate: never by the flags alone; on CUDA by `torch.cuda.is_bf16_supported`
    (compute capability 8.0 and later, no emulation). Other devices: `False`."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu_has_native_bf16() and cpu_bf16_probe(hidden_size).speedup >= BF16_MIN_SPEEDUP
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


__all__ = [
    "BF16_MIN_SPEEDUP",
    "Bf16Probe",
    "autocast",
    "bf16_setting",
    "cpu_bf16_probe",
    "cpu_has_native_bf16",
    "machine_settings",
    "native_bf16",
    "usable_cores",
    "use_every_core",
]
