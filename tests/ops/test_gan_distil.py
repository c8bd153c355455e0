"""The compact GAN student and its distillation: what it computes, that training moves it
towards the teacher, and that a resumed run continues exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from safetensors.torch import load, save
from torch import nn

from editor.ops.gan_distil import Distiller, DistilWeights, PatchDiscriminator
from editor.ops.sr_compact import CompactSR, from_state_dict


class TinyFeatures:
    """A fixed random two-layer conv stack standing in for VGG (named like its layers)."""

    def __init__(self) -> None:
        torch.manual_seed(1)
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, stride=2)
        for p in (*self.c1.parameters(), *self.c2.parameters()):
            p.requires_grad_(False)

    def __call__(self, x, layers):
        a = F.relu(self.c1(x))
        b = F.relu(self.c2(a))
        return {n: t for n, t in (("relu1_1", a), ("relu2_1", b)) if n in layers}


WEIGHTS = DistilWeights(layers=("relu1_1", "relu2_1"))


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    lr = torch.rand(2, 3, 12, 12, generator=g)
    smooth = F.interpolate(lr, scale_factor=4, mode="bicubic")
    blurred = F.avg_pool2d(smooth, 3, 1, 1, count_include_pad=False)
    return lr, (smooth + 1.5 * (smooth - blurred)).clamp(0, 1)  # a sharpened enlargement


def test_the_student_is_a_nearest_enlargement_plus_what_its_body_draws():
    torch.manual_seed(0)
    net = CompactSR(channels=8, convs=2).eval()
    lr = torch.rand(1, 3, 10, 14)
    out = net(lr)  # untrained: the body's last convolution starts at zero
    assert out.shape == (1, 3, 40, 56)
    assert torch.equal(out, F.interpolate(lr, scale_factor=4, mode="nearest"))
    assert net.receptive_radius == 4
    nn.init.normal_(net.body[-1].weight, std=0.1)
    assert not torch.equal(net(lr), out)


def test_distillation_moves_the_student_towards_the_teachers_picture():
    torch.manual_seed(0)
    lr, teacher = _pair()
    distiller = Distiller(CompactSR(channels=8, convs=2), TinyFeatures(), WEIGHTS, lr=2e-3,
                          discriminator=PatchDiscriminator(channels=8))  # fmt: skip
    first = distiller.step(lr, teacher, adversarial=False)
    for _ in range(80):  # the warm-up: L1 + perceptual + Gram
        last = distiller.step(lr, teacher, adversarial=False)
    assert last["pixel"] < 0.8 * first["pixel"], (first, last)
    assert last["gram"] < first["gram"], (first, last)
    fooled = [distiller.step(lr, teacher)["d"] for _ in range(20)]
    assert min(fooled[-5:]) < fooled[0], fooled  # the critic learns to tell them apart
    assert distiller.step_count == 101


def test_a_resumed_run_takes_the_same_next_step():
    lr, teacher = _pair()

    def fresh() -> Distiller:
        torch.manual_seed(0)
        return Distiller(CompactSR(channels=8, convs=2), TinyFeatures(), WEIGHTS,
                         discriminator=PatchDiscriminator(channels=8))  # fmt: skip

    a, rng = fresh(), torch.Generator().manual_seed(3)
    for _ in range(3):
        a.step(lr, teacher)
    torch.randint(10, (5,), generator=rng)  # the sampler has drawn
    saved = save(a.state(rng))  # as a checkpoint file: a copy, tensors only
    b, resumed = fresh(), torch.Generator()
    b.restore(load(saved), resumed)
    assert b.step_count == 3
    assert torch.equal(torch.rand(4, generator=rng), torch.rand(4, generator=resumed))
    assert a.step(lr, teacher) == b.step(lr, teacher)
    for pa, pb in zip(a.student.parameters(), b.student.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_the_stored_sizes_rebuild_the_same_network():
    torch.manual_seed(0)
    net = CompactSR(channels=8, convs=3).eval()
    copy = from_state_dict(net.state_dict(), net.metadata())
    lr = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        assert torch.equal(net(lr), copy(lr))
    assert not copy.training
