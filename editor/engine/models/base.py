"""What a model family is: one kind of network the edits ask for, resolved through the store.

Each family is one module of `editor.engine.models` holding one `ModelFamily` subclass (and
whatever that kind of model needs: its loader, its cache, its listing). Defining the subclass
registers it under its `id`; `Models` (the handle a run finds at `ctx.models`) finds it there.
Adding a kind of model is adding one file to this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from editor.engine.store import ModelStore

FAMILIES: dict[str, type[ModelFamily]] = {}
"""Every family, by id, registered as its module is imported (see `manager.families`)."""


class ModelFamily:
    """One kind of model on one store and device.

    `load(**options)` returns the ready network (eval mode, on `device`; cached by the family,
    so a second run does not read the file again) or raises `ModelMissing` / `ModelError` with
    what to do; `available(**options)` says whether `load` would find its files, without loading.
    """

    id: ClassVar[str]
    title: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.id in FAMILIES and FAMILIES[cls.id].__qualname__ != cls.__qualname__:
            raise TypeError(f"two model families share the id {cls.id!r}")
        FAMILIES[cls.id] = cls

    def __init__(self, store: ModelStore, device: str = "cpu") -> None:
        self.store, self.device = store, str(device)

    def available(self, **options: Any) -> bool:
        raise NotImplementedError

    def load(self, **options: Any) -> Any:
        raise NotImplementedError
