"""Device choice: auto falls back to the CPU; an unavailable device fails with a clear message."""

from __future__ import annotations

import pytest
import torch

from editor.engine.device import describe_device, pick_device, set_cpu_threads


def test_auto_picks_cuda_only_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == "cpu" and pick_device("AUTO") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == "cuda"


def test_unavailable_or_unknown_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda:1")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")
    assert pick_device("cpu") == "cpu"


def test_threads_and_description():
    before = torch.get_num_threads()
    try:
        set_cpu_threads(None)
        assert torch.get_num_threads() == before
        set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        assert describe_device("cpu") == "CPU (1 thread)"
        set_cpu_threads(2)
        assert describe_device("cpu") == "CPU (2 threads)"
        with pytest.raises(ValueError):
            set_cpu_threads(0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_describe_gpu():
    assert describe_device(pick_device("cuda")) == torch.cuda.get_device_name(0)
