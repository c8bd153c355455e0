"""Style brush and texture tool: from the mask, the selected style and the options to one run.

The user paints where a style goes with the ordinary mask tools. Stylise sends one
`style.StyleRequest` to the engine through the window's `EditSession` (previews as it goes,
Apply at any moment, one undo step). For several styles in one run, "Add region" stores the
current mask with the selected style and clears the mask for the next one; the stored regions
are drawn as tinted overlays until they are used.

Fast styles (networks) and "Fast (universal)" (wct) run in one pass. With either selected, every
finished brush stroke submits a live preview job (`style.run_preview`, on the engine; a newer
stroke replaces the waiting or running one) and the canvas shows its result over the painted
area; Apply (Ctrl+Return) then runs the full-resolution edit and commits it as one undo step,
Discard hides the preview. Painting again hides the old preview until the new one arrives.

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
from editor.engine.models.vgg import vgg_available
from editor.ui.canvas import CanvasView
from editor.ui.edit_session import EditSession
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
        session.bar.stateChanged.connect(self._on_bar_state)
        self._preview_jobs: set[int] = set()  # live preview jobs not yet ended
        self._latest_preview: int | None = None
        self.live_shown = False  # a live preview is on the canvas
        engine = session.engine
        engine.finished.connect(self._on_preview_finished)
        engine.failed.connect(self._on_preview_failed)
        engine.cancelled.connect(lambda job_id: self._preview_jobs.discard(job_id))
        panel.selectionChanged.connect(self._on_style_selected)
        self._on_style_selected(panel.current_entry())

    # --- document ------------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        if self.document is not None:
            self.document.remove_listener(self._on_document_changed)
        self.cancel_previews()
        self.live_shown = False
        self.clear_regions()
        self.clear_sample()
        self.document = document
        if document is not None:
            document.add_listener(self._on_document_changed)

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

    def _on_style_selected(self, entry: StyleEntry | None) -> None:
        self.options.set_fast_style(entry is not None and entry.kind == "fast")

    def _region(self, entry: StyleEntry, mask: np.ndarray | None) -> style.StyleRegion:
        """The request's region for a panel entry: a fast style by its file, else the picture."""
        if entry.kind == "fast":
            return style.StyleRegion(mask=mask, model=entry.file)
        return style.StyleRegion(self._picture(entry), mask)

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
        entry = self.panel.current_entry()
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

    def restore_region(self, entry: StyleEntry, rect: Rect, crop: np.ndarray) -> None:
        """Put back a region kept elsewhere (crash recovery), without touching the mask."""
        color = REGION_COLORS[len(self.regions) % len(REGION_COLORS)]
        region = StyleRegionDraft(entry, rect, crop, color)
        self.regions.append(region)
        self._draw_region(region)
        self._show_regions()

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

    def _regions_painted(self) -> None:
        """A Stylise result was applied: its regions are painted now; the next run starts afresh."""
        if self.regions:
            self.clear_regions()

    # --- runs ----------------------------------------------------------------------------------

    def _method_for(self, entries: list[StyleEntry]) -> str | None:
        """ "fast" when the styles are fast style networks, the chosen method for pictures;
        None (and a status message) when a run would mix the two."""
        kinds = {e.kind for e in entries}
        if kinds == {"fast"}:
            return "fast"
        if "fast" in kinds:
            self._status(
                "Fast styles and pictures do not mix in one run: Stylise the regions of one "
                "kind first (Clear regions drops the stored ones)"
            )
            return None
        return self.options.params().method

    def stylise(self, *, apply_when_done: bool = False) -> int | None:
        """Stylise the stored regions and the painted mask (or the whole image) in one run.

        apply_when_done: Apply was pressed on a live preview: commit the result on arrival."""
        doc = self._document_with("stylise it")
        if doc is None:
            return None
        entry = self.panel.current_entry()
        painted = bool(doc.mask.any())
        if not self.regions and entry is None:
            self._status("Pick a style first: drop a picture on the Styles panel")
            return None
        used = [r.style for r in self.regions]
        if entry is not None and (painted or not self.regions):
            used.append(entry)
        method = self._method_for(used)
        if method is None:
            return None
        if method in ("gatys", "mrf") and not self._features_ready():
            return None
        self.cancel_previews()
        self._pixels = {}
        try:
            regions = [self._region(r.style, r.full_mask(doc.mask.shape)) for r in self.regions]
            if painted and entry is not None:
                regions.append(self._region(entry, doc.mask.copy()))
            elif not regions:
                regions.append(self._region(entry, None))
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
            method=method,
            strength=p.strength,
            keep_colors=p.keep_colors,
            style_scale=p.style_scale,
            iterations=p.iterations,
        )
        if method == "fast":
            label = ", ".join(dict.fromkeys(e.name for e in used))
        else:
            label = METHOD_LABELS.get(method, method).split(" ")[0]
        count = f", {len(regions)} styles" if len(regions) > 1 else ""
        name = f"{STYLISE} ({label}{count})"
        factory = partial(style.run, request)
        return self.session.submit(
            name,
            factory,
            before=snapshot,
            finishable=method not in style.ONE_PASS_METHODS,
            apply_when_done=apply_when_done,
            on_applied=self._regions_painted,
        )

    # --- live brush preview --------------------------------------------------------------------

    def on_mask_stroke(self) -> int | None:
        """A brush stroke just ended: with a one-pass style selected, preview the painted area.

        Submits `style.run_preview` to the engine (the previous preview job, waiting or running,
        is cancelled: only the latest stroke matters) and returns its job id; the canvas shows
        the result when it arrives. None when there is nothing to preview."""
        doc = self.document
        entry = self.panel.current_entry()
        if doc is None or entry is None or not self.options.live_preview_on():
            return None
        if self.session.running is not None or self.session.pending is not None:
            return None  # a full edit is running or waiting for Apply: leave it alone
        if not doc.mask.any():
            self._hide_live()
            return None
        try:
            region = self._region(entry, doc.mask.copy())
        except StyleLibraryError as error:
            self._status(f"Cannot read the style: {error}")
            return None
        p = self.options.params()
        request = style.StyleRequest(
            image=doc.image.copy(),
            regions=(region,),
            method=self.options.effective_method(),
            strength=p.strength,
            keep_colors=p.keep_colors,
            style_scale=p.style_scale,
        )
        self.cancel_previews()
        engine = self.session.engine
        job_id = engine.submit(f"Style preview ({entry.name})", partial(style.run_preview, request))
        self._preview_jobs.add(job_id)
        self._latest_preview = job_id
        if not self.session.offering:
            self.session.offer(
                f"Live preview ({entry.name}): rendering…",
                partial(self.stylise, apply_when_done=True),
            )
        return job_id

    def cancel_previews(self) -> None:
        """Stop the live preview jobs of this window (Esc, a new stroke)."""
        for job_id in list(self._preview_jobs):
            self.session.engine.cancel(job_id)
        self._latest_preview = None

    def _on_preview_finished(self, job_id: int, value) -> None:
        if job_id not in self._preview_jobs:
            return
        self._preview_jobs.discard(job_id)
        if job_id != self._latest_preview or not self.session.offering:
            return  # superseded by a newer stroke, or the user moved on (Discard, Stylise)
        pixels, rect = value
        self.canvas.show_preview(pixels, rect)
        self.live_shown = True
        entry = self.panel.current_entry()
        name = entry.name if entry is not None else "style"
        self.session.bar.label.setText(
            f"Live preview ({name}): Apply (Ctrl+Return) renders it at full size, Discard hides it"
        )

    def _on_preview_failed(self, job_id: int, text: str) -> None:
        if job_id not in self._preview_jobs:
            return
        self._preview_jobs.discard(job_id)
        if job_id == self._latest_preview:
            self._status(f"Style preview failed: {text}")
            self.session.discard()
            self.session.bar.set_state("message", f"Style preview failed: {text}")

    def _hide_live(self) -> None:
        if self.live_shown:
            self.canvas.clear_preview()
            self.live_shown = False

    def _on_document_changed(self, layer: str, rect) -> None:
        """Painting again: the old preview steps aside so the new stroke shows."""
        if layer == "mask" and self.live_shown and self.session.offering:
            self._hide_live()

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
        )
        factory = partial(style.run_texture, request)
        return self.session.submit(TEXTURE, factory, before=snapshot, finishable=True)
