"""Which torch device the edits run on, and how many CPU threads they may use.

torch is imported lazily: importing the engine (and showing a window) should not wait for it.
"""

from __future__ import annotations

import re

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


def pick_device(preference: str = "auto") -> str:
    """Resolve a user preference to a torch device string.

    "auto" -> "cuda" when a CUDA GPU is usable, else "cpu". "cpu", "cuda", "cuda:N" and "mps" are
    honoured when available; asking for an unavailable one raises ValueError saying why, rather
    than failing later inside an edit.
    """
    import torch

    pref = preference.strip().lower()
    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not _DEVICE.match(pref):
        raise ValueError(f"unknown device {preference!r}: use auto, cpu, cuda, cuda:N or mps")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {preference!r} was asked for but CUDA is not available "
                f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda or 'no'}); "
                "use 'auto' or 'cpu'"
            )
        index = int(pref.split(":")[1]) if ":" in pref else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {preference!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    if pref == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but Metal is not available; use 'auto'")
    return pref


def set_cpu_threads(n: int | None) -> None:
    """Cap the CPU threads torch and OpenCV use for one op (None leaves their defaults).

    Leaving a core free keeps the UI thread responsive on small machines. Process-wide: call it
    from the engine thread before running edits.
    """
    if n is None:
        return
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    import cv2
    import torch

    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def describe_device(device: str) -> str:
    """A short label for the status bar: "CPU (2 threads)", "NVIDIA H100 80GB HBM3", "Apple GPU"."""
    import torch

    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        return torch.cuda.get_device_name(index)
    if device == "mps":
        return "Apple GPU (Metal)"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"
