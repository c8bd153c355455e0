"""A trainer's whole state as one flat dict of tensors, for safetensors checkpoints.

Both of the project's trainers (super-resolution, fast style) resume bit for bit from the same
layout: ``model.<key>`` weights, ``optim.<param index>.<key>`` optimizer state flattened to
1-D, ``step`` and the data sampler's ``rng``. safetensors holds tensors only (no pickle), so the
optimizer's per-parameter state is stored flat and reshaped from the model on load.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def trainer_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, step: int, rng: torch.Generator
) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors: model.*, optim.<param index>.<key>, step, rng."""
    out: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()
    }
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            out[f"optim.{index}.{key}"] = t.detach().cpu().clone().reshape(-1).contiguous()
    out["step"] = torch.tensor([step], dtype=torch.int64)
    out["rng"] = rng.get_state().clone()
    return out


def restore_trainer_state(
    tensors: Mapping[str, torch.Tensor],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: torch.Generator,
) -> int:
    """Load what `trainer_state` wrote into the same architecture; returns the step."""
    model.load_state_dict(
        {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True
    )
    device = next(model.parameters()).device
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    order = list(model.parameters())
    for index, entry in state.items():
        shape = order[index].shape
        for key, value in entry.items():
            entry[key] = value.reshape(()) if key == "step" else value.reshape(shape).to(device)
    template = optimizer.state_dict()
    template["state"] = state
    optimizer.load_state_dict(template)
    rng.set_state(tensors["rng"].clone())
    return int(tensors["step"][0])
