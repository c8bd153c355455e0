"""Training a `TransformNet` for one style (Johnson et al. 2016) — pure functions, no files.

Data path: photos (uint8 RGB, H x W x 3) -> `prepare_photo` (resized so the short side is
`photo_side`, which sets how much of a scene one crop shows) -> `CropSampler` (random square
crops, random horizontal flips, photos drawn in proportion to their area) -> `StyleTrainer`
(transform net, frozen VGG features, Adam) -> `train` yields a `StepReport` every few steps.

The loss is the optimisation method's (Gatys et al. 2016), applied to the network's output:

    style_weight * style_loss(VGG(out), Gram(VGG(style)))      several shallow layers
  + content_weight * content_loss(VGG(out)[c], VGG(photo)[c])   one layer
  + tv_weight * tv_loss(out)

with `editor.ops.style_losses` (relative Gram and content terms, so the weights read the same
for any layer). The feature network arrives as a callable `features(rgb, layers) -> {layer:
tensor}` on RGB 0..1 — the engine's VGG19 `FeatureExtractor` — so nothing here loads weights.

Checkpoints are a flat ``dict[str, Tensor]`` (`StyleTrainer.state_tensors`): weights, Adam
moments, step, sampler RNG; with `config` (JSON) one safetensors file resumes exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from editor.ops.style_losses import content_loss, gram_matrix, style_loss, tv_loss
from editor.ops.train_state import restore_trainer_state, trainer_state
from editor.ops.transform_net import TransformNet

Features = Callable[[torch.Tensor, Sequence[str]], Mapping[str, torch.Tensor]]

# --------------------------------------------------------------------------------------------
# Data


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3) uint8 at size (h, w); PIL area-aware (reduce + bicubic)."""
    h, w = size
    if rgb.shape[:2] == (h, w):
        return rgb
    img = Image.fromarray(rgb)
    return np.asarray(img.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=2.0))


def prepare_photo(rgb: np.ndarray, photo_side: int) -> torch.Tensor:
    """(H, W, 3) uint8 photo -> (3, h, w) uint8 tensor with min(h, w) == photo_side."""
    h, w = rgb.shape[:2]
    scale = photo_side / min(h, w)
    size = (max(photo_side, round(h * scale)), max(photo_side, round(w * scale)))
    out = resize_rgb(rgb, size)
    return torch.from_numpy(np.array(out, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def prepare_style(rgb: np.ndarray, style_side: int) -> torch.Tensor:
    """(H, W, 3) uint8 painting -> (1, 3, h, w) float 0..1 with max(h, w) == style_side.

    The painting's pixel scale sets the texture's scale: its brush strokes come out about as many
    pixels wide in the stylised photo as they are in this resized copy.
    """
    h, w = rgb.shape[:2]
    scale = style_side / max(h, w)
    out = resize_rgb(rgb, (max(1, round(h * scale)), max(1, round(w * scale))))
    return torch.from_numpy(np.array(out, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


class CropSampler:
    """Random square crops (and horizontal flips) of in-memory uint8 photos.

    Photos are drawn with probability proportional to their area so every pixel is equally
    likely; all randomness comes from `generator`, whose state goes into checkpoints.
    """

    def __init__(
        self, photos: Sequence[torch.Tensor], crop: int, generator: torch.Generator
    ) -> None:
        usable = [p for p in photos if min(p.shape[1:]) >= crop]
        if not usable:
            raise ValueError(f"no photo has a side of at least {crop} pixels")
        self.photos = usable
        self.crop = crop
        self.generator = generator
        areas = torch.tensor([float(p.shape[1] * p.shape[2]) for p in usable])
        self._weights = areas / areas.sum()

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample(self, batch_size: int) -> torch.Tensor:
        """(B, 3, crop, crop) float32 RGB 0..1."""
        c = self.crop
        idx = torch.multinomial(
            self._weights, batch_size, replacement=True, generator=self.generator
        )
        crops = []
        for i in idx.tolist():
            photo = self.photos[i]
            y = self._randint(photo.shape[1] - c + 1)
            x = self._randint(photo.shape[2] - c + 1)
            patch = photo[:, y : y + c, x : x + c]
            if self._randint(2):
                patch = patch.flip(-1)
            crops.append(patch)
        return torch.stack(crops).float() / 255.0


# --------------------------------------------------------------------------------------------
# Training

NEW_STYLE_INPUT_NOISE = 0.05
"""Input noise of new trainings: fine-tuning the four shipped styles with it lowered their Gram
loss on every content photo (most on the night photo's flat sky) at about the same content
loss (training/styles/README.md)."""


@dataclass(frozen=True)
class StyleTrainConfig:
    """Hyper-parameters; stored as JSON in checkpoints (keep `total_steps` on resume)."""

    crop: int = 128
    batch_size: int = 4
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 50
    total_steps: int = 2000
    schedule_start: int = 0
    """The step the warm-up and cosine start from: a fine-tune resumed with a new learning rate
    warms up and decays over its own segment (restarting at full rate wrecks a trained net)."""
    style_weight: float = 4.0
    content_weight: float = 1.0
    tv_weight: float = 2.0
    style_layers: tuple[str, ...] = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1")
    content_layer: str = "relu2_2"
    channels: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 3
    input_noise: float = 0.0
    """Gaussian noise (sigma, RGB 0..1) added to the net's input (see `TransformNet`). 0 here
    so checkpoints from before it resume unchanged; new trainings use NEW_STYLE_INPUT_NOISE."""
    seed: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> StyleTrainConfig:
        """From `dataclasses.asdict` output after a JSON round trip (lists back to tuples)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in fields}
        return cls(**values)


def learning_rate_at(step: int, config: StyleTrainConfig) -> float:
    """Linear warm-up, then cosine decay from `learning_rate` to `min_learning_rate`, both
    counted from `schedule_start`."""
    step -= config.schedule_start
    if step < config.warmup_steps:
        return config.learning_rate * (max(step, 0) + 1) / config.warmup_steps
    span = max(1, config.total_steps - config.schedule_start - config.warmup_steps)
    t = min(1.0, (step - config.warmup_steps) / span)
    lo, hi = config.min_learning_rate, config.learning_rate
    return lo + 0.5 * (hi - lo) * (1.0 + math.cos(math.pi * t))


@dataclass(frozen=True)
class StepReport:
    """Mean losses over the steps since the previous report (weighted terms sum to `loss`)."""

    step: int
    loss: float
    style: float
    content: float
    tv: float
    learning_rate: float


def style_grams(
    features: Features, style: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """{layer: (1, C, C)} Gram targets of a (1, 3, H, W) RGB 0..1 painting."""
    with torch.no_grad():
        feats = features(style, list(layers))
        return {name: gram_matrix(feats[name]).detach() for name in layers}


class StyleTrainer:
    """Owns the net, Adam, the sampler's RNG and the step; `train_step` does one update.

    features: frozen VGG (RGB 0..1 in); style: (1, 3, H, W) RGB 0..1; photos: (3, h, w) uint8
    tensors from `prepare_photo`. Everything needed to resume is in `state_tensors()`.
    """

    def __init__(
        self,
        features: Features,
        style: torch.Tensor,
        photos: Sequence[torch.Tensor],
        config: StyleTrainConfig,
        device: str | torch.device = "cpu",
        model: TransformNet | None = None,
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.features = features
        self.model = model or TransformNet(config.channels, config.blocks, config.input_noise)
        self.model = self.model.to(self.device)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.sampler = CropSampler(photos, config.crop, self.generator)
        self.targets = style_grams(features, style.to(self.device), config.style_layers)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.step = 0

    def losses(self, photos: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted terms and their sum for a (B, 3, H, W) RGB 0..1 batch (graph kept)."""
        c = self.config
        with torch.no_grad():
            content_target = self.features(photos, [c.content_layer])[c.content_layer]
        out = self.model(photos)
        layers = list(dict.fromkeys((*c.style_layers, c.content_layer)))
        feats = self.features(out, layers)
        terms = {
            "style": c.style_weight * style_loss(feats, self.targets),
            "content": c.content_weight * content_loss(feats[c.content_layer], content_target),
            "tv": c.tv_weight * tv_loss(out),
        }
        terms["loss"] = terms["style"] + terms["content"] + terms["tv"]
        return terms

    def train_step(self) -> tuple[dict[str, float], float]:
        """One Adam update on a fresh batch; returns ({term: value}, learning rate used)."""
        lr_value = learning_rate_at(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr_value
        self.model.train()
        batch = self.sampler.sample(self.config.batch_size).to(self.device)
        terms = self.losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}, lr_value

    @torch.no_grad()
    def stylise(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB 0..1 -> stylised RGB 0..1 with the current weights (a preview)."""
        self.model.eval()
        return self.model(rgb.to(self.device)).cpu()

    # ---- checkpoint state as plain tensors (safetensors-friendly, no pickle) ----

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume (see `editor.ops.train_state`)."""
        return trainer_state(self.model, self.optimizer, self.step, self.generator)

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` produced (same architecture and config)."""
        self.step = restore_trainer_state(tensors, self.model, self.optimizer, self.generator)


def deepen_state(
    tensors: Mapping[str, torch.Tensor], channels: tuple[int, int, int], blocks: int, more: int
) -> dict[str, torch.Tensor]:
    """A `StyleTrainer.state_tensors()` checkpoint of a net with `blocks` residual blocks as one
    with `blocks + more`, computing the same function: each new block's last instance-norm scale
    and shift start at zero, so the block adds nothing until training grows it (the zero-init
    residual of Goyal et al. 2017). Capacity for a fine-tune without starting over.

    Adam's moments follow their parameters to the new indices; new parameters start without.
    """
    old = TransformNet(channels, blocks)
    new = TransformNet(channels, blocks + more)
    closing_norm = len(new.res[0].body) - 1
    silent = {
        f"res.{b}.body.{closing_norm}.{part}"
        for b in range(blocks, blocks + more)
        for part in ("weight", "bias")
    }
    out: dict[str, torch.Tensor] = {}
    for key, value in new.state_dict().items():
        saved = tensors.get(f"model.{key}")
        if saved is None:
            saved = torch.zeros_like(value) if key in silent else value
        out[f"model.{key}"] = saved.clone()
    index_of = {name: i for i, (name, _) in enumerate(new.named_parameters())}
    renumber = {str(i): index_of[name] for i, (name, _) in enumerate(old.named_parameters())}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, rest = key.split(".", 2)
            out[f"optim.{renumber[index]}.{rest}"] = value
        elif not key.startswith("model."):
            out[key] = value
    return out


def train(
    trainer: StyleTrainer, steps: int | None = None, report_every: int = 25
) -> Iterator[StepReport]:
    """Run until `trainer.step == steps`, yielding a `StepReport` every `report_every` steps
    and at the last one. With ``steps=None`` it runs to ``trainer.config.total_steps``, read
    afresh every step, so a caller with a time budget may re-plan the schedule between reports.
    A generator, so callers (CLI, engine job, tests) decide when to checkpoint, log or stop.
    """
    sums: dict[str, float] = {}
    count = 0
    lr_value = 0.0
    while trainer.step < (steps if steps is not None else trainer.config.total_steps):
        terms, lr_value = trainer.train_step()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + value
        count += 1
        end = steps if steps is not None else trainer.config.total_steps
        if trainer.step % report_every == 0 or trainer.step >= end:
            mean = {k: v / count for k, v in sums.items()}
            yield StepReport(
                trainer.step, mean["loss"], mean["style"], mean["content"], mean["tv"], lr_value
            )
            sums, count = {}, 0
