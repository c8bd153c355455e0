"""Training a fast style network: the loss falls, checkpoints resume exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from editor.ops import style_train
from editor.ops.style_train import StyleTrainConfig, StyleTrainer


@pytest.fixture
def features(shared_models):
    from editor.engine.models.vgg import FeatureExtractor
    from editor.engine.store import ModelStore

    return FeatureExtractor.from_store(ModelStore(models_dir=shared_models), "cpu")


def _photos(n=3, side=48):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        base = rng.random((side // 8, side // 8 + 2, 3))
        img = (np.kron(base, np.ones((8, 8, 1))) * 255).astype(np.uint8)
        out.append(style_train.prepare_photo(img, side))
    return out


def _style():
    yy, xx = np.mgrid[0:48, 0:48]
    stripes = np.stack([np.sin(xx / 2.0), np.cos(yy / 3.0), np.sin((xx + yy) / 4.0)], -1)
    return style_train.prepare_style(((stripes + 1) * 127.5).astype(np.uint8), 48)


CONFIG = StyleTrainConfig(
    crop=32,
    batch_size=2,
    learning_rate=5e-3,
    warmup_steps=0,
    total_steps=100,
    channels=(8, 16, 16),
    blocks=1,
    style_layers=("relu1_1", "relu2_1"),
    content_layer="relu2_1",
)


def test_learning_rate_warms_up_and_decays_from_the_schedule_start():
    config = dataclasses.replace(
        CONFIG, learning_rate=3e-4, min_learning_rate=1e-5, warmup_steps=10, total_steps=200
    )
    fresh = [style_train.learning_rate_at(s, config) for s in (0, 9, 10, 200)]
    assert fresh[0] < 1e-4 and fresh[1] == fresh[2] == 3e-4 and fresh[3] == 1e-5
    # A fine-tune segment resumed at step 100 warms up again instead of jumping to its peak.
    segment = dataclasses.replace(config, schedule_start=100, total_steps=300)
    lrs = [style_train.learning_rate_at(s, segment) for s in (100, 109, 110, 205, 300)]
    assert lrs[0] < 1e-4 and lrs[1] == lrs[2] == 3e-4
    assert 1e-5 < lrs[3] < 3e-4 and lrs[4] == 1e-5


def test_prepare_photo_sets_the_short_side():
    img = np.zeros((100, 60, 3), np.uint8)
    assert tuple(style_train.prepare_photo(img, 30).shape) == (3, 50, 30)
    assert tuple(style_train.prepare_style(img, 50).shape) == (1, 3, 50, 30)


def test_a_few_steps_lower_the_loss(features):
    torch.manual_seed(0)
    trainer = StyleTrainer(features, _style(), _photos(), CONFIG)
    reports = list(style_train.train(trainer, 25, report_every=5))
    assert [r.step for r in reports] == [5, 10, 15, 20, 25]
    first, last = reports[0], reports[-1]
    assert last.loss < 0.7 * first.loss  # 6.3 -> 3.3 here, mostly the style term
    assert last.style < first.style
    assert abs(first.loss - (first.style + first.content + first.tv)) < 1e-4


def test_checkpoint_resumes_at_the_same_step_with_the_same_result(features):
    torch.manual_seed(0)
    straight = StyleTrainer(features, _style(), _photos(), CONFIG)
    list(style_train.train(straight, 4))

    torch.manual_seed(0)
    first = StyleTrainer(features, _style(), _photos(), CONFIG)
    list(style_train.train(first, 2))
    state = first.state_tensors()
    resumed = StyleTrainer(features, _style(), _photos(), CONFIG)
    resumed.load_state_tensors(state)
    assert resumed.step == 2
    list(style_train.train(resumed, 4))
    assert resumed.step == 4
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_config_survives_a_json_round_trip():
    import dataclasses
    import json

    raw = json.loads(json.dumps(dataclasses.asdict(CONFIG)))
    assert StyleTrainConfig.from_dict(raw) == CONFIG


def test_a_deepened_net_starts_as_the_same_function_and_keeps_training(features):
    torch.manual_seed(0)
    shallow = StyleTrainer(features, _style(), _photos(), CONFIG)
    list(style_train.train(shallow, 3))
    state = style_train.deepen_state(shallow.state_tensors(), CONFIG.channels, CONFIG.blocks, 2)
    deep = StyleTrainer(features, _style(), _photos(), dataclasses.replace(CONFIG, blocks=3))
    deep.load_state_tensors(state)  # strict: every new weight and Adam moment in place
    assert deep.step == 3 and len(deep.model.res) == 3
    x = torch.rand(1, 3, 40, 36)
    assert torch.allclose(deep.stylise(x), shallow.stylise(x), atol=1e-6)
    # The old parameters keep their Adam moments under their new indices.
    old_names = [n for n, _ in shallow.model.named_parameters()]
    new_index = {n: i for i, (n, _) in enumerate(deep.model.named_parameters())}
    moved = new_index["to_rgb.conv.weight"]
    assert moved != old_names.index("to_rgb.conv.weight")
    moments = deep.optimizer.state_dict()["state"]
    assert torch.equal(
        moments[moved]["exp_avg"].cpu(),
        shallow.optimizer.state_dict()["state"][old_names.index("to_rgb.conv.weight")]["exp_avg"],
    )
    # Training moves the new blocks off identity.
    before = deep.model.res[2].body[2].weight.detach().clone()
    list(style_train.train(deep, 5))
    assert not torch.equal(deep.model.res[2].body[2].weight.detach(), before)
