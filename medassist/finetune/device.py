"""Where training runs: the device and dtype from the config (auto-detected, overridable), the refusals that
save a user an hour (QLoRA without CUDA, bf16 where the device has none), and the CPU's memory helpers.

    python -m medassist.finetune.device            # prints what `device: auto` and `dtype: auto` pick here

The same TrainConfig trains on a laptop CPU, an Apple GPU (MPS) or NVIDIA GPUs; several processes come from
`accelerate launch` (train.py reads the process count from accelerate, never from the config).
"""
from __future__ import annotations

import functools
import resource
import sys


class DeviceError(ValueError):
    """A setting this machine cannot run, with what to change."""


def pick_device(name: str = "auto") -> str:
    """"auto" -> cuda, else mps, else cpu; a named device must exist here."""
    import torch

    have = {"cuda": torch.cuda.is_available(), "mps": bool(getattr(torch.backends, "mps", None))
            and torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if have[d])
    if name not in have:
        raise DeviceError(f"device must be auto, cuda, mps or cpu, not {name!r}")
    if not have[name]:
        raise DeviceError(f"device: {name} is not available on this machine (torch {torch.__version__} sees "
                          f"{', '.join(d for d in have if have[d])}). Use device: auto.")
    return name


def pick_dtype(name: str, device: str = "cpu"):
    """The weights' dtype. auto: bf16 where the device computes it natively (CUDA with bf16, a CPU with AVX512-BF16
    or AMX), else fp32. A bf16 asked for where there is none is refused, not emulated slowly."""
    import torch

    if device == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
    elif device == "mps":
        bf16 = _mps_bf16()
    else:
        bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    if name == "auto":
        return torch.bfloat16 if bf16 else torch.float32
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise DeviceError(f"dtype must be auto, float32, bfloat16 or float16, not {name!r}")
    if dtype == torch.bfloat16 and device == "mps" and not bf16:
        raise DeviceError("dtype: bfloat16 is not supported by this Mac's GPU (MPS needs macOS 14+ for bf16). "
                          "Use dtype: float32 (or auto).")
    return dtype


def _mps_bf16() -> bool:
    import torch

    try:
        torch.ones(1, dtype=torch.bfloat16, device="mps")
        return True
    except (RuntimeError, TypeError):
        return False


def check_quantization(load_in_4bit: bool, device: str) -> None:
    """QLoRA loads the base in 4-bit NF4 through bitsandbytes, whose kernels are CUDA-only."""
    if not load_in_4bit:
        return
    if device != "cuda":
        raise DeviceError(f"load_in_4bit (QLoRA) needs an NVIDIA GPU: bitsandbytes' 4-bit kernels run on CUDA only, "
                          f"and this run is on {device}. Set load_in_4bit: false (LoRA on the full-precision base), "
                          "or run this config on a CUDA machine.")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise DeviceError("load_in_4bit (QLoRA) needs bitsandbytes: pip install bitsandbytes") from None


def peak_rss_gib() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


def peak_gpu_gib(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library's handle where it is glibc (Linux), else None (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def release_free_memory() -> None:
    """Hand freed heap back to the OS after each example. Without it, glibc's heap kept every step's
    differently sized activations: the full-epoch run grew from 7.7 GiB after 3 steps to 14.6 GiB."""
    if libc := _glibc():
        libc.malloc_trim(0)


def limit_heap_growth(mib: int) -> None:
    """Serve every allocation of `mib` MiB or more from its own mmap, so freeing it returns it to the OS.
    glibc's default threshold climbs to 32 MiB after the first large frees, so the 1-30 MiB activations of
    a 1,024-token step land on the heap, where differently sized steps fragment it: with malloc_trim
    alone a full epoch still climbed from 7.5 to 9 GiB over 13 steps. With 1 MiB it stayed at 5.3 GiB,
    but every fresh mapping is page-faulted again: 0.68x the tokens/s. 0 keeps glibc's default."""
    if mib and (libc := _glibc()):
        libc.mallopt(-3, mib << 20)  # -3 = M_MMAP_THRESHOLD


if __name__ == "__main__":
    dev = pick_device()
    print(f"device: {dev}, dtype: {pick_dtype('auto', dev)}")
