"""Training and evaluation of `ResidualSR` — pure functions of arrays and tensors, no files.

Data path: photos (uint8 RGB, HxWx3) -> `prepare_photo` (area downscale by 2 to average away
JPEG blocking and demosaicing, so the "HR" targets are clean) -> `make_pair` (crop to a multiple
of the scale, LR by PIL bicubic exactly as at test time, quantised to uint8 like a real image) ->
`PatchSampler` (aligned random LR/HR crops with the 8 flips/rotations) -> `SRTrainer` (Adam,
Charbonnier loss, cosine learning-rate decay) -> `train` yields progress.

Checkpoints are a flat ``dict[str, Tensor]`` (`SRTrainer.state_tensors`): model weights,
Adam moments, the step and the sampler's RNG state, all tensors, so one safetensors file holds a
complete, resumable state without pickle. Writing it to disk is the caller's job.

Evaluation follows the shared MANIFEST protocol (sections 2 and 5): HR cropped to a multiple of
the scale, LR by PIL ``BICUBIC``, output clipped and rounded to uint8, PSNR on BT.601
studio-range Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with `scale` border pixels cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from editor.ops.sr_net import ResidualSR
from editor.ops.train_state import restore_trainer_state, trainer_state

# --------------------------------------------------------------------------------------------
# Data


def prepare_photo(rgb: np.ndarray, prescale: int = 2) -> np.ndarray:
    """Area-downscale a (JPEG) photo by `prescale` to use it as a clean HR target.

    (H, W, 3) uint8 -> (H // prescale, W // prescale, 3) uint8. Averaging `prescale`^2 pixels
    suppresses 8x8 block artefacts and chroma subsampling that the network would otherwise learn
    to reproduce as "detail".
    """
    if prescale <= 1:
        return rgb
    img = Image.fromarray(rgb)
    return np.asarray(img.reduce(prescale))


def modcrop(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Crop (H, W, ...) to the largest multiple of `scale` in both directions (top-left kept)."""
    h, w = rgb.shape[:2]
    return rgb[: h - h % scale, : w - w % scale]


def bicubic_downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """LR = PIL BICUBIC downscale of (H, W, 3) uint8 by `scale` (H, W multiples of it) -> uint8.

    The same degradation as the evaluation protocol, so the net learns the inverse of what it is
    tested on. PIL's bicubic is antialiased (kernel widened by the scale).
    """
    h, w = hr.shape[:2]
    img = Image.fromarray(hr).resize((w // scale, h // scale), Image.Resampling.BICUBIC)
    return np.asarray(img)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """PIL BICUBIC upscale of (h, w, 3) uint8 by `scale` -> uint8; the MANIFEST's baseline."""
    h, w = lr.shape[:2]
    img = Image.fromarray(lr).resize((w * scale, h * scale), Image.Resampling.BICUBIC)
    return np.asarray(img)


def _to_chw(rgb: np.ndarray) -> torch.Tensor:
    # np.array copies: PIL's arrays are read-only, which torch.from_numpy warns about.
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def make_pair(hr: np.ndarray, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(lr, hr) uint8 tensors (3, h, w) and (3, h*s, w*s) from an (H, W, 3) uint8 HR image."""
    hr = modcrop(hr, scale)
    return _to_chw(bicubic_downscale(hr, scale)), _to_chw(hr)


class PatchSampler:
    """Random aligned LR/HR patch batches from in-memory uint8 pairs.

    Patches are cut on the LR grid (`lr_patch` square) and the matching HR window, so the pair is
    exactly the test-time degradation of that window (up to PIL's kernel reaching across the crop
    edge, which only touches the outer 1-2 LR pixels). Each patch gets one of the 8 dihedral
    transforms; they commute with the symmetric bicubic kernel. Images are picked with
    probability proportional to their area so every pixel is equally likely.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
        scale: int,
        lr_patch: int,
        generator: torch.Generator,
    ) -> None:
        usable = [(lr, hr) for lr, hr in pairs if min(lr.shape[1:]) >= lr_patch]
        if not usable:
            raise ValueError(f"no image has an LR side >= {lr_patch}")
        self.pairs = usable
        self.scale = scale
        self.lr_patch = lr_patch
        self.generator = generator
        areas = torch.tensor([float(lr.shape[1] * lr.shape[2]) for lr, _ in usable])
        self._weights = areas / areas.sum()

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(lr, hr) float32 in 0..1: (B, 3, p, p) and (B, 3, p*s, p*s)."""
        p, s = self.lr_patch, self.scale
        idx = torch.multinomial(
            self._weights, batch_size, replacement=True, generator=self.generator
        )
        lrs, hrs = [], []
        for i in idx.tolist():
            lr, hr = self.pairs[i]
            y = self._randint(lr.shape[1] - p + 1)
            x = self._randint(lr.shape[2] - p + 1)
            lr_c = lr[:, y : y + p, x : x + p]
            hr_c = hr[:, y * s : (y + p) * s, x * s : (x + p) * s]
            t = self._randint(8)
            if t & 4:
                lr_c, hr_c = lr_c.flip(-1), hr_c.flip(-1)
            k = t & 3
            if k:
                lr_c, hr_c = lr_c.rot90(k, (1, 2)), hr_c.rot90(k, (1, 2))
            lrs.append(lr_c)
            hrs.append(hr_c)
        return torch.stack(lrs).float() / 255.0, torch.stack(hrs).float() / 255.0


# --------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters. `total_steps` sets the cosine schedule's length (keep it on resume)."""

    lr_patch: int = 32
    batch_size: int = 16
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    warmup_steps: int = 200
    total_steps: int = 20000
    charbonnier_eps: float = 1e-3
    grad_clip: float = 0.1
    seed: int = 0


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean(sqrt((pred - target)^2 + eps^2)): L1 that is smooth at 0 (Lai et al. 2017, LapSRN).

    L1-type losses give sharper SR than L2 (Lim et al. 2017, EDSR; Zhao et al. 2017).
    """
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from `learning_rate` to `min_learning_rate`."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.total_steps - config.warmup_steps)
    t = min(1.0, (step - config.warmup_steps) / span)
    lo, hi = config.min_learning_rate, config.learning_rate
    return lo + 0.5 * (hi - lo) * (1.0 + math.cos(math.pi * t))


class SRTrainer:
    """Owns model, Adam, sampler RNG and step; `train_step` does one update.

    Everything needed to resume bit-for-bit is in `state_tensors()` (a flat dict of tensors).
    """

    def __init__(
        self,
        model: ResidualSR,
        pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
        config: TrainConfig,
    ) -> None:
        self.model = model
        self.config = config
        self.generator = torch.Generator().manual_seed(config.seed)
        self.sampler = PatchSampler(pairs, model.scale, config.lr_patch, self.generator)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.step = 0

    def train_step(self) -> tuple[float, float]:
        """One Adam update on a fresh batch; returns (loss, learning rate used)."""
        lr_value = learning_rate_at(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_value
        self.model.train()
        lr_img, hr_img = self.sampler.sample(self.config.batch_size)
        loss = charbonnier(self.model(lr_img), hr_img, self.config.charbonnier_eps)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Gradient-norm clipping (VDSR trains its deep plain net at high rates this way) stops
        # a rare bad batch from throwing the PReLU stack into a dead state.
        nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.step += 1
        return loss.item(), lr_value

    # ---- checkpoint state as plain tensors (safetensors-friendly, no pickle) ----

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume (see `editor.ops.train_state`)."""
        return trainer_state(self.model, self.optimizer, self.step, self.generator)

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` produced (same architecture and config)."""
        self.step = restore_trainer_state(tensors, self.model, self.optimizer, self.generator)


def train(
    trainer: SRTrainer, steps: int | None = None, report_every: int = 50
) -> Iterator[tuple[int, float, float]]:
    """Run until `trainer.step == steps`, yielding (step, mean loss since last report, lr).

    A generator so callers (CLI, engine job, tests) decide when to checkpoint, log or stop.
    It also yields at the last step. With ``steps=None`` it runs to ``trainer.config.total_steps``,
    read afresh every step, so a caller with a time budget may re-plan the schedule between
    reports (``trainer.config = dataclasses.replace(config, total_steps=...)``).
    """
    total, count = 0.0, 0

    def end() -> int:
        return trainer.config.total_steps if steps is None else steps

    while trainer.step < end():
        loss, lr_value = trainer.train_step()
        total += loss
        count += 1
        if trainer.step % report_every == 0 or trainer.step == end():
            yield trainer.step, total / count, lr_value
            total, count = 0.0, 0


# --------------------------------------------------------------------------------------------
# Evaluation (MANIFEST protocol)


def rgb_to_y_studio(rgb: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma (16..235) of (H, W, 3) RGB in 0..255, as float64."""
    rgb = rgb.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def psnr_y(pred: np.ndarray, ref: np.ndarray, border: int) -> float:
    """PSNR (dB, peak 255) between the Y channels of two uint8 RGB images, `border` px cut."""
    a, b = rgb_to_y_studio(pred), rgb_to_y_studio(ref)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim_y(pred: np.ndarray, ref: np.ndarray, border: int) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, L 255) between
    the Y channels of two uint8 RGB images, `border` px cut, as the SR papers report it."""
    import cv2

    a, b = rgb_to_y_studio(pred), rgb_to_y_studio(ref)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


@torch.no_grad()
def upscale_array(model: nn.Module, lr: np.ndarray) -> np.ndarray:
    """Run the net on a whole (h, w, 3) uint8 image -> (h*s, w*s, 3) uint8 (clipped, rounded)."""
    model.eval()
    x = _to_chw(lr).float().unsqueeze(0) / 255.0
    y = model(x).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return y[0].permute(1, 2, 0).numpy()


def evaluate_psnr(model: ResidualSR, hr_images: Sequence[np.ndarray], scale: int) -> float:
    """Mean Y-PSNR of `model` over uint8 RGB HR images (MANIFEST protocol, border = scale)."""
    scores = []
    for hr in hr_images:
        hr = modcrop(hr, scale)
        scores.append(psnr_y(upscale_array(model, bicubic_downscale(hr, scale)), hr, scale))
    return float(np.mean(scores))


def evaluate_bicubic_psnr(hr_images: Sequence[np.ndarray], scale: int) -> float:
    """The same protocol with PIL bicubic upscaling: the baseline every model must beat."""
    scores = []
    for hr in hr_images:
        hr = modcrop(hr, scale)
        scores.append(psnr_y(bicubic_upscale(bicubic_downscale(hr, scale), scale), hr, scale))
    return float(np.mean(scores))
