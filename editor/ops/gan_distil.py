"""Distilling a GAN upscaler into a compact one: the student learns to draw what the teacher
(Real-ESRGAN) draws on the same low-resolution input.

Pure torch: pairs (LR crop, the teacher's x4 output of it) and a feature network arrive as
arguments. The loss is the one Real-ESRGAN is trained with, aimed at the teacher's picture
instead of the photo: L1 + perceptual (VGG features) + adversarial, plus a Gram term on the
same features, since texture statistics are what the sharp look is judged by
(benchmarks/bench_upscale_gan.py). A student trained on L1 alone averages the detail it cannot
place and comes out blurred; the discriminator, which sees teacher outputs as real, punishes
that blur.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from editor.ops.style_losses import gram_matrix
from editor.ops.train_state import restore_trainer_state, trainer_state

Features = Callable[[Tensor, Sequence[str]], Mapping[str, Tensor]]


class PatchDiscriminator(nn.Module):
    """A small spectral-normalised convolutional critic: (N, 3, H, W) -> (N, 1, H/8, W/8)
    logits, one per overlapping ~40 px patch (texture is local; a global verdict would let the
    student trade one region's blur for another's sharpness)."""

    def __init__(self, channels: int = 48) -> None:
        super().__init__()
        c = channels

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [spectral_norm(nn.Conv2d(cin, cout, 3, stride, 1)), nn.LeakyReLU(0.2)]

        self.net = nn.Sequential(
            *block(3, c, 1), *block(c, c, 2), *block(c, 2 * c, 1), *block(2 * c, 2 * c, 2),
            *block(2 * c, 4 * c, 1), *block(4 * c, 4 * c, 2),
            spectral_norm(nn.Conv2d(4 * c, 1, 3, 1, 1)),
        )  # fmt: skip

    def forward(self, rgb01: Tensor) -> Tensor:
        return self.net(rgb01 * 2 - 1)


@dataclass(frozen=True)
class DistilWeights:
    """The loss's balance. pixel: L1 to the teacher's output; perceptual: L1 of VGG features
    (`layers`) normalised per layer by the teacher's mean activation; gram: L1 of their Gram
    matrices, relative; adversarial: the student's non-saturating GAN loss."""

    pixel: float = 1.0
    perceptual: float = 1.0
    gram: float = 1.0
    adversarial: float = 0.05
    layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1")


def perceptual_terms(
    features: Features, student: Tensor, teacher: Tensor, layers: Sequence[str]
) -> tuple[Tensor, Tensor]:
    """(feature L1, Gram L1) of the student's picture against the teacher's, each averaged over
    `layers` and made relative to the teacher's own magnitude (so one weight fits every layer)."""
    mine = features(student, layers)
    with torch.no_grad():
        theirs = features(teacher, layers)
    feat = student.new_zeros(())
    gram = student.new_zeros(())
    for name in layers:
        a, b = mine[name], theirs[name]
        feat = feat + (a - b).abs().mean() / b.abs().mean().clamp_min(1e-6)
        ga, gb = gram_matrix(a), gram_matrix(b)
        gram = gram + (ga - gb).abs().mean() / gb.abs().mean().clamp_min(1e-6)
    return feat / len(layers), gram / len(layers)


class Distiller:
    """One optimisation step at a time over (lr, teacher_hr) batches, for a student and a
    discriminator; `state` / `restore` carry everything a resumed run needs."""

    def __init__(
        self,
        student: nn.Module,
        features: Features,
        weights: DistilWeights = DistilWeights(),
        lr: float = 2e-4,
        discriminator: nn.Module | None = None,
    ) -> None:
        self.student, self.features, self.weights = student, features, weights
        self.discriminator = discriminator or PatchDiscriminator()
        self.opt_g = torch.optim.Adam(student.parameters(), lr=lr, betas=(0.9, 0.99))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.9, 0.99))
        self.step_count = 0

    def step(self, lr01: Tensor, teacher01: Tensor, adversarial: bool = True) -> dict[str, float]:
        """One generator step (and one discriminator step when `adversarial`); returns the
        loss parts. Without `adversarial` (the warm-up) only L1 + perceptual + Gram train."""
        w = self.weights
        self.student.train()
        out = self.student(lr01)
        pixel = F.l1_loss(out, teacher01)
        if w.perceptual or w.gram:
            feat, gram = perceptual_terms(self.features, out, teacher01, w.layers)
        else:  # an L1-only warm-up: no VGG passes (most of a step's cost)
            feat = gram = torch.zeros(())
        loss = w.pixel * pixel + w.perceptual * feat + w.gram * gram
        parts = {
            k: float(v.detach())
            for k, v in (("pixel", pixel), ("perceptual", feat), ("gram", gram))
        }
        if adversarial:
            for p in self.discriminator.parameters():
                p.requires_grad_(False)
            g_adv = F.softplus(-self.discriminator(out)).mean()
            loss = loss + w.adversarial * g_adv
            parts["g_adv"] = float(g_adv.detach())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if adversarial:
            for p in self.discriminator.parameters():
                p.requires_grad_(True)
            real = self.discriminator(teacher01)
            fake = self.discriminator(out.detach().clamp(0, 1))
            d_loss = F.softplus(-real).mean() + F.softplus(fake).mean()
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            parts["d"] = float(d_loss.detach())
        self.step_count += 1
        parts["loss"] = float(loss.detach())
        return parts

    def _parts(self) -> dict[str, tuple[nn.Module, torch.optim.Optimizer]]:
        return {"g": (self.student, self.opt_g), "d": (self.discriminator, self.opt_d)}

    def state(self, rng: torch.Generator) -> dict[str, Tensor]:
        """Everything a resumed run needs, as flat tensors for safetensors (`train_state`'s
        layout, the generator's part under ``g.``, the discriminator's under ``d.``); `rng`:
        the data sampler's generator."""
        return {
            f"{prefix}.{key}": value
            for prefix, (model, optimiser) in self._parts().items()
            for key, value in trainer_state(model, optimiser, self.step_count, rng).items()
        }

    def restore(self, tensors: Mapping[str, Tensor], rng: torch.Generator) -> None:
        """Load what `state` wrote (the sampler's generator included)."""
        for prefix, (model, optimiser) in self._parts().items():
            mine = {
                k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")
            }
            self.step_count = restore_trainer_state(mine, model, optimiser, rng)
