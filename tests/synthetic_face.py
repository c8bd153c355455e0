"""Landmarks of a made-up face for the face swap's geometry tests (`tests/` is on sys.path: see
http_server.py)."""

from __future__ import annotations

import numpy as np


def landmarks(seed: int = 0) -> np.ndarray:
    """68 plausible landmark positions: a jaw arc, brows, nose, eyes and mouth, (68, 2) (x, y)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    jaw = np.stack([100 + 60 * np.cos(t), 110 + 70 * np.sin(t)], 1)
    brows = np.stack([np.linspace(55, 145, 10), np.full(10, 80.0)], 1)
    nose = np.stack([np.full(9, 100.0), np.linspace(90, 130, 9)], 1)
    ring = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    eyes = np.concatenate(
        [np.stack([cx + 10 * np.cos(ring), 95 + 4 * np.sin(ring)], 1) for cx in (75, 125)]
    )
    lips = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    mouth = np.stack([100 + 25 * np.cos(lips), 150 + 8 * np.sin(lips)], 1)
    return np.concatenate([jaw, brows, nose, eyes, mouth]) + rng.normal(0, 0.5, (68, 2))
