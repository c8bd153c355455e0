"""Removal's content network (LaMa for connected users): the store checks its sha256 before
torch.jit loads it, the crop reaches it at <= 512 px padded to a multiple of 8, and refined
then runs its texture stage from the network's prediction instead of PatchMatch completions.

LaMa itself cannot be downloaded here, so a small TorchScript module of the same signature
stands in for it: the plumbing is tested, LaMa's quality is not measured."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
from torch import nn

from editor.core.geometry import Rect
from editor.engine.edits import remove
from editor.engine.edits.remove import RemoveRequest
from editor.engine.jobs import RunContext, Update, drive
from editor.engine.models.content import (
    CONTENT_NETWORK_ID,
    content_network_installed,
    load_content_network,
)
from editor.engine.models.manager import Models
from editor.engine.store import ModelError, ModelStore, load_registry
from editor.ops.inpaint import content
from editor.ops.inpaint.content import NetworkContent, PatchMatchMean
from editor.ops.inpaint.network import network_fill

OBJECT = Rect(30, 20, 40, 20)  # the red block in the rgb_image fixture


def _object_mask(shape: tuple[int, ...], pad: int = 3) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    mask[OBJECT.expand(pad).slices] = 255
    return mask


class MeanFill(nn.Module):
    """LaMa's signature: (image (1,3,H,W) 0..1, mask (1,1,H,W) 1 = fill) -> image. Fills the
    hole with the known pixels' mean colour and refuses sides that are not padded to 8."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.shape[2] % 8 != 0 or image.shape[3] % 8 != 0:
            raise RuntimeError("the sides must be multiples of 8")
        known = 1.0 - mask
        mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum().clamp(min=1.0)
        return image * known + mean * mask


@pytest.fixture
def scripted(tmp_path):
    """The stand-in saved where the store looks (<models>/lama/big-lama.pt), and a store whose
    registry entry carries that file's checksum."""
    path = tmp_path / "models" / "lama" / "big-lama.pt"
    path.parent.mkdir(parents=True)
    torch.jit.script(MeanFill()).save(str(path))
    registry = load_registry()
    entry = registry[CONTENT_NETWORK_ID]
    file = dataclasses.replace(
        entry.files[0], sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        size=path.stat().st_size,
    )  # fmt: skip
    registry[CONTENT_NETWORK_ID] = dataclasses.replace(entry, files=(file,))
    store = ModelStore(
        models_dir=tmp_path / "models", user_dir=tmp_path / "user", registry=registry
    )
    return store, path


def test_the_checksum_is_checked_before_anything_is_loaded(scripted, tmp_path, monkeypatch):
    store, path = scripted
    assert content_network_installed(store)
    net = load_content_network(store, "cpu")
    assert load_content_network(store, "cpu") is net  # loaded once
    # the real registry's sha256 (LaMa's) does not match the stand-in: never handed to torch.jit
    real = ModelStore(models_dir=tmp_path / "models", user_dir=tmp_path / "user")
    assert not content_network_installed(real)

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load was called on an unverified file")

    monkeypatch.setattr(torch.jit, "load", refuse)
    with pytest.raises(ModelError, match="big-lama"):
        load_content_network(real, "cpu")
    offline = Models(ModelStore(models_dir=tmp_path / "models", user_dir=tmp_path / "user"))
    assert isinstance(offline.load("content"), PatchMatchMean)  # offline: the classical stage


def test_a_file_that_is_not_torchscript_is_a_model_error(tmp_path):
    path = tmp_path / "models" / "lama" / "big-lama.pt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a TorchScript archive")
    registry = load_registry()
    entry = registry[CONTENT_NETWORK_ID]
    file = dataclasses.replace(entry.files[0], sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                               size=path.stat().st_size)  # fmt: skip
    registry[CONTENT_NETWORK_ID] = dataclasses.replace(entry, files=(file,))
    store = ModelStore(
        models_dir=tmp_path / "models", user_dir=tmp_path / "user", registry=registry
    )
    with pytest.raises(ModelError, match="not a TorchScript inpainting network"):
        load_content_network(store, "cpu")


def test_network_fill_pads_downscales_and_keeps_the_known_pixels(scripted):
    store, _ = scripted
    net = load_content_network(store, "cpu")
    rng = np.random.default_rng(0)
    rgb8 = rng.integers(0, 256, (301, 700, 3), dtype=np.uint8)
    rgb8[100:200, 300:400] = (250, 0, 0)
    hole = np.zeros(rgb8.shape[:2], bool)
    hole[95:205, 295:405] = True
    seen = []

    def spy(image, mask):
        seen.append(tuple(image.shape))
        return net(image, mask)

    out = network_fill(spy, rgb8, hole)
    assert seen and max(seen[0][2:]) <= 512 + 7 and seen[0][2] % 8 == 0 == seen[0][3] % 8
    assert out.shape == rgb8.shape and np.array_equal(out[~hole], rgb8[~hole])
    known_mean = rgb8[~hole].reshape(-1, 3).mean(axis=0)
    assert np.abs(out[hole].reshape(-1, 3).mean(axis=0) - known_mean).max() < 4  # no red left


def test_refined_runs_its_texture_stage_on_the_networks_prediction(
    scripted, rgb_image, shared_models, monkeypatch
):
    store, _ = scripted
    stage = Models(store).load("content")  # the store has the (stand-in) network: it is used
    assert isinstance(stage, NetworkContent)

    def no_patchmatch(*args, **kwargs):
        raise AssertionError("the PatchMatch content stage ran beside the content network")

    monkeypatch.setattr(content, "completion", no_patchmatch)
    monkeypatch.setattr(remove, "completion", no_patchmatch)
    mask = _object_mask(rgb_image.shape)
    updates: list[Update] = []
    request = RemoveRequest(rgb_image, mask, method="refined")
    ctx = RunContext.for_folder(shared_models)
    ctx.models.provided["content"] = stage
    out = drive(remove.run(request, ctx), updates.append)
    messages = [u.message for u in updates]
    assert "Content network done" in messages and "Refining texture" in messages
    far = np.ones(mask.shape, bool)
    far[OBJECT.expand(3 + 5).clip(128, 96).slices] = False
    assert np.array_equal(out[far], rgb_image[far])
    assert np.abs(out[OBJECT.slices].astype(int) - (200, 40, 40)).sum(axis=-1).min() > 40
