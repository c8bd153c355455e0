"""`Models`: the one handle through which a run gets any model (`ctx.models`).

The driver (the engine's worker, the CLI, a batch worker, a test) builds it from the store the
user chose; the run asks by family id and options, never for a file:

    features = ctx.models.load(VGGFeatures.id, prefer=TUNED_ON_CONV3)
    upscaler = ctx.models.load(Upscalers.id, choice=request.model)

(importing the family's class registers it; `families()` also finds the ones no edit imports.)

`provided` stands a ready object in for a family (tests hand in a fake network this way, and a
benchmark a network it has already loaded).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from editor.engine.models.base import FAMILIES, ModelFamily

if TYPE_CHECKING:
    from editor.engine.store import ModelStore


@cache
def families() -> dict[str, type[ModelFamily]]:
    """Every family in this package, by id (importing each module once registers its class)."""
    package = importlib.import_module("editor.engine.models")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("base", "manager"):
            importlib.import_module(f"editor.engine.models.{module.name}")
    return dict(FAMILIES)


class Models:
    """The models of one store on one device, each family built on first use."""

    def __init__(
        self,
        store: ModelStore | None = None,
        device: str = "cpu",
        provided: Mapping[str, Any] | None = None,
    ) -> None:
        self._store = store
        self.device = str(device)
        self.provided = dict(provided or {})
        self._families: dict[str, ModelFamily] = {}

    @property
    def store(self) -> ModelStore:
        """The store (built on first use: the default one reads SEMEDIT_MODELS and the
        registry, which a run that needs no model should not pay for)."""
        if self._store is None:
            from editor.engine.store import ModelStore  # jobs imports this module; store, jobs

            self._store = ModelStore()
        return self._store

    def on(self, device: str) -> Models:
        """The same store and stand-ins for a run on `device`."""
        if str(device) == self.device:
            return self
        return Models(self._store, device, self.provided)

    def family(self, family_id: str) -> ModelFamily:
        if family_id not in self._families:
            # an edit has imported its families' modules; the others are imported only if asked for
            kind = FAMILIES.get(family_id) or families().get(family_id)
            if kind is None:
                raise KeyError(
                    f"no model family {family_id!r}; known: {', '.join(sorted(FAMILIES))}"
                )
            self._families[family_id] = kind(self.store, self.device)
        return self._families[family_id]

    def load(self, family_id: str, **options: Any) -> Any:
        if family_id in self.provided:
            return self.provided[family_id]
        return self.family(family_id).load(**options)

    def available(self, family_id: str, **options: Any) -> bool:
        if family_id in self.provided:
            return self.provided[family_id] is not None
        return self.family(family_id).available(**options)
