"""Where this repository keeps its training inputs and outputs: the project's own defaults for
the scripts in tools/, which the installed package (editor/) knows nothing about.

The checkout is this file's grandparent; the shared data and models (photos, paintings, test
sets, VGG19) live in ../shared beside it, outside git.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"  # also the folder holding the Set5/ and Set14/ test sets
SHARED_MODELS = SHARED / "models"
TRAIN_PHOTOS = SHARED_DATA / "train" / "sun_hays80"
PREVIEW_PHOTO = SHARED_DATA / "content" / "golden_gate.jpg"

PACKAGED_MODELS = REPO / "editor" / "resources" / "models"  # the shipped upscalers
SHIPPED_STYLES = PACKAGED_MODELS / "styles"  # the shipped fast styles
CHECKPOINTS = REPO / "training" / "checkpoints"  # the upscalers' resumable state
LOGS = REPO / "training" / "logs"
STYLE_TRAINING = REPO / "training" / "styles"  # the styles' checkpoints, logs and previews
