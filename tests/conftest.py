"""Fixtures shared by every test layer: where ../shared is, offscreen Qt, small synthetic images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_MODELS = SHARED / "models"
SHARED_DATA = SHARED / "data"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep tests away from the real user's settings, caches and models folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("SEMEDIT_MODELS", raising=False)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Deterministic, and immune to a busy second core: two torch threads fighting another
    process for 2 cores run ~10x slower than one."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def _gc_on_the_gui_thread(request):
    """Qt tests collect cycles on the GUI thread only, as the app does (editor/ui/main_thread_gc):
    otherwise a test's download or engine thread may free an earlier test's widgets and crash."""
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    from editor.ui.main_thread_gc import MainThreadGC

    collector = MainThreadGC()
    yield
    collector.stop()
    collector.deleteLater()


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 serving one small model file (see tests/http_server.py)."""
    from http_server import FakeServer

    s = FakeServer()
    yield s
    s.close()


@pytest.fixture
def shared_models() -> Path:
    if not SHARED_MODELS.is_dir():
        pytest.skip("../shared/models is not present")
    return SHARED_MODELS


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 96x128 uint8 RGB image with gradients and a few hard edges (deterministic)."""
    rng = np.random.default_rng(0)
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.float32)
    img[20:40, 30:70] = (200, 40, 40)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
