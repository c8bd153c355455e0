"""Style brush and texture tool: from the mask, the selected style and the options to one run.

The user paints where a style goes with the ordinary mask tools. Stylise sends one
`style.StyleRequest` to the engine through the window's `EditSession` (previews as it goes,
Apply at any moment, one undo step). For several styles in one run, "Add region" stores the
current mask with the selected style and clears the mask for the next one; the stored regions
are drawn as tinted overlays until they are used.

Texture: "Use selection as texture sample" keeps the pixels under the mask's bounding box as the
sample and clears the mask; the user paints the target; Fill with texture sends a
`style.TextureRequest` (sample: the canvas sample if one was taken, else the selected style).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem

from editor.core import mask_ops
from editor.core.document import Document
from editor.core.geometry import Rect
from editor.core.style_library import StyleEntry, StyleLibraryError
from editor.engine.edits import style
from editor.engine.features import vgg_available
from editor.ui.canvas import CanvasView
from editor.ui.job_bar import EditSession
from editor.ui.qimage import overlay_rgba, qimage_from_rgba
from editor.ui.style_options import METHOD_LABELS, StyleOptions
from editor.ui.style_panel import StylePanel

REGION_COLORS = [
    QColor(66, 135, 245),
    QColor(245, 166, 35),
    QColor(80, 200, 120),
    QColor(186, 85, 211),
    QColor(0, 200, 200),
    QColor(240, 80, 160),
]
REGION_OPACITY = 0.35
NEEDS_FEATURES = (
    "Style edits need VGG19 feature weights: Edit ▸ Models… downloads or imports them "
    "(or set the models folder in Preferences)"
)
MIN_SAMPLE_PX = 16  # the texture synthesis needs at least this much of a sample
STYLISE = "Stylise"
TEXTURE = "Fill with texture"


@dataclass
class StyleRegionDraft:
    """A stored (style, mask) pair: the mask is kept as its bounding-box crop."""

    style: StyleEntry
    rect: Rect
    crop: np.ndarray  # (rect.h, rect.w) uint8
    color: QColor
    item: QGraphicsPixmapItem | None = None

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        mask[self.rect.slices] = self.crop
        return mask


class StyleEdits(QObject):
    """Holds the regions and the texture sample of one window and submits the style runs."""

    def __init__(
        self,
        session: EditSession,
        canvas: CanvasView,
        panel: StylePanel,
        options: StyleOptions,
        push_patch: Callable,
        status: Callable[[str], None],
        models_dir: Callable[[], Path | None],
    ) -> None:
        super().__init__()
        self.session = session
        self.canvas = canvas
        self.panel = panel
        self.options = options
        self._push_patch = push_patch
        self._status = status
        self._models_dir = models_dir
        self.document: Document | None = None
        self.regions: list[StyleRegionDraft] = []
        self.sample: np.ndarray | None = None
        self._pixels: dict[str, np.ndarray] = {}  # style id -> picture, for the current run
        self._overlays_shown = True
        options.removeRegionRequested.connect(self.remove_region)
        options.clearRegionsRequested.connect(self.clear_regions)
        options.clearSampleRequested.connect(self.clear_sample)
        session.applied.connect(self._on_applied)
        session.bar.stateChanged.connect(self._on_bar_state)

    # --- document ------------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        self.clear_regions()
        self.clear_sample()
        self.document = document

    def _document_with(self, what: str) -> Document | None:
        if self.document is None:
            self._status(f"Open an image to {what}")
        return self.document

    def _features_ready(self) -> bool:
        """Say so before a run that could only fail for want of the VGG weights."""
        if vgg_available(self._models_dir()):
            return True
        self._status(NEEDS_FEATURES)
        self.session.bar.set_state("message", NEEDS_FEATURES)
        return False

    def _selected_picture(self) -> StyleEntry | None:
        entry = self.panel.current_entry()
        return entry if entry is not None and entry.kind == "image" else None

    def _picture(self, entry: StyleEntry) -> np.ndarray:
        if entry.id not in self._pixels:
            self._pixels[entry.id] = self.panel.library.load_pixels(entry)
        return self._pixels[entry.id]

    # --- regions -------------------------------------------------------------------------------

    def add_region(self) -> bool:
        """Store the current mask with the selected style; clear the mask for the next region."""
        doc = self._document_with("add a style region")
        if doc is None:
            return False
        entry = self._selected_picture()
        if entry is None:
            self._status("Pick a style in the Styles panel first (drop a picture on it to add one)")
            return False
        rect = mask_ops.mask_bbox(doc.mask)
        if rect is None:
            self._status("Paint where this style goes first (B for the brush), then Add region")
            return False
        color = REGION_COLORS[len(self.regions) % len(REGION_COLORS)]
        region = StyleRegionDraft(entry, rect, doc.mask[rect.slices].copy(), color)
        self.regions.append(region)
        self._draw_region(region)
        self._show_regions()
        self._push_patch(
            "mask", doc.diff("mask", mask_ops.clear(doc.mask.shape)), "Add style region"
        )
        self._status(
            f"Region {len(self.regions)} ({entry.name}) stored; paint the next one, "
            "or Stylise to run them all"
        )
        return True

    def remove_region(self, row: int) -> None:
        if 0 <= row < len(self.regions):
            region = self.regions.pop(row)
            if region.item is not None:
                self.canvas.scene().removeItem(region.item)
            self._show_regions()

    def clear_regions(self) -> None:
        while self.regions:
            self.remove_region(len(self.regions) - 1)
        self._show_regions()

    def _draw_region(self, region: StyleRegionDraft) -> None:
        rgb = (region.color.red(), region.color.green(), region.color.blue())
        item = QGraphicsPixmapItem(
            QPixmap.fromImage(qimage_from_rgba(overlay_rgba(region.crop, rgb, REGION_OPACITY)))
        )
        item.setPos(region.rect.x, region.rect.y)
        item.setZValue(2.9)  # over the image, under the working mask
        item.setVisible(self._overlays_shown)
        self.canvas.scene().addItem(item)
        region.item = item

    def _show_regions(self) -> None:
        self.options.set_regions(
            [(f"{i + 1}. {r.style.name}", r.color) for i, r in enumerate(self.regions)]
        )

    def _on_bar_state(self, state: str) -> None:
        """Region overlays step aside while a preview or a result is on the canvas."""
        self._overlays_shown = state not in ("running", "done")
        for region in self.regions:
            if region.item is not None:
                region.item.setVisible(self._overlays_shown)

    def _on_applied(self, name: str) -> None:
        if name.startswith(STYLISE) and self.regions:
            self.clear_regions()  # they are painted now; the next run starts afresh

    # --- runs ----------------------------------------------------------------------------------

    def stylise(self) -> int | None:
        """Stylise the stored regions and the painted mask (or the whole image) in one run."""
        doc = self._document_with("stylise it")
        if doc is None:
            return None
        entry = self._selected_picture()
        painted = bool(doc.mask.any())
        if not self.regions and entry is None:
            self._status("Pick a style first: drop a picture on the Styles panel")
            return None
        if not self._features_ready():
            return None
        self._pixels = {}
        try:
            regions = [
                style.StyleRegion(self._picture(r.style), r.full_mask(doc.mask.shape))
                for r in self.regions
            ]
            if painted and entry is not None:
                regions.append(style.StyleRegion(self._picture(entry), doc.mask.copy()))
            elif not regions:
                regions.append(style.StyleRegion(self._picture(entry), None))
        except StyleLibraryError as error:
            self._status(f"Cannot read the style: {error}")
            return None
        finally:
            self._pixels = {}
        if painted and entry is None:
            self._status("No style selected for the painted area: stylising the stored regions")
        elif not painted and not self.regions:
            self._status(f"No mask painted: stylising the whole image with {entry.name}")
        p = self.options.params()
        snapshot = doc.image.copy()
        request = style.StyleRequest(
            image=snapshot,
            regions=tuple(regions),
            method=p.method,
            strength=p.strength,
            keep_colors=p.keep_colors,
            style_scale=p.style_scale,
            iterations=p.iterations,
            models_dir=self._models_dir(),
        )
        label = METHOD_LABELS.get(p.method, p.method).split(" ")[0]
        count = f", {len(regions)} styles" if len(regions) > 1 else ""
        name = f"{STYLISE} ({label}{count})"
        factory = partial(style.run, request)
        return self.session.submit(name, factory, before=snapshot, finishable=True)

    def use_selection_as_sample(self) -> bool:
        """Keep the image under the mask's bounding box as the texture sample; clear the mask."""
        doc = self._document_with("take a texture sample")
        if doc is None:
            return False
        rect = mask_ops.mask_bbox(doc.mask)
        if rect is None:
            self._status("Select the area to copy the texture from first (M for the rectangle)")
            return False
        if min(rect.w, rect.h) < MIN_SAMPLE_PX:
            self._status(
                f"The texture sample must be at least {MIN_SAMPLE_PX} × {MIN_SAMPLE_PX} px; "
                f"this selection is {rect.w} × {rect.h}"
            )
            return False
        self.sample = doc.image[rect.slices].copy()
        self.options.set_sample((rect.w, rect.h))
        self._push_patch(
            "mask", doc.diff("mask", mask_ops.clear(doc.mask.shape)), "Use as texture sample"
        )
        self._status(
            f"Texture sample taken ({rect.w} × {rect.h} px); paint where the texture goes, "
            "then Fill with texture"
        )
        return True

    def clear_sample(self) -> None:
        self.sample = None
        self.options.set_sample(None)

    def fill_texture(self) -> int | None:
        """Fill the masked area with texture from the canvas sample or the selected style."""
        doc = self._document_with("fill it with texture")
        if doc is None:
            return None
        if not doc.mask.any():
            self._status("Paint where the texture goes first (B for the brush)")
            return None
        sample = self.sample
        if sample is None:
            entry = self._selected_picture()
            if entry is None:
                self._status(
                    "Pick a style as the texture, or select a canvas area and "
                    "Use selection as texture sample"
                )
                return None
            try:
                sample = self.panel.library.load_pixels(entry)
            except StyleLibraryError as error:
                self._status(f"Cannot read the style: {error}")
                return None
        if not self._features_ready():
            return None
        p = self.options.params()
        snapshot = doc.image.copy()
        request = style.TextureRequest(
            sample=sample,
            image=snapshot,
            mask=doc.mask.copy(),
            iterations=p.iterations,
            sample_scale=p.style_scale,
            models_dir=self._models_dir(),
        )
        factory = partial(style.run_texture, request)
        return self.session.submit(TEXTURE, factory, before=snapshot, finishable=True)
