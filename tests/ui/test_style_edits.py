"""Style brush and texture tool from the window, with stand-in runs (the engine API's shape):
requests, previews, Apply at any moment as one undo step, cancel, regions, texture samples."""

from __future__ import annotations

import time

import numpy as np
import pytest
from canvas_input import drag, paint
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from editor.core.imageio import save_image
from editor.core.style_library import StyleLibrary
from editor.engine.edits import style
from editor.engine.jobs import Update
from editor.ui import style_edits
from editor.ui.main_window import MainWindow

RED = np.array([220, 30, 30], np.uint8)
BLUE = np.array([30, 30, 220], np.uint8)


def _solid(color, h=24, w=32) -> np.ndarray:
    return np.broadcast_to(color, (h, w, 3)).copy()


class FakeRuns:
    """Stand-ins for style.run / style.run_texture: paint the target area a little more each
    step (one preview per step) and stop early when asked to finish."""

    def __init__(self, steps: int = 5, step_s: float = 0.0) -> None:
        self.steps = steps
        self.step_s = step_s
        self.requests: list = []
        self.finished_early = False

    def _drive(self, ctx, image, mask, color):
        out = image.copy()
        inside = np.ones(image.shape[:2], bool) if mask is None else mask > 0
        for step in range(1, self.steps + 1):
            if ctx.finish_requested:
                self.finished_early = True
                break
            ctx.check_cancelled()
            time.sleep(self.step_s)
            out[inside] = (color * min(1.0, step / 10)).astype(np.uint8)
            yield Update(progress=step / self.steps, message=f"step {step}", preview=out.copy())
        return out

    def run(self, request, ctx):
        self.requests.append(request)
        out = request.image.copy()
        for region in request.regions:
            color = region.style.reshape(-1, region.style.shape[2])[:, :3].mean(0)
            out = yield from self._drive(ctx, out, region.mask, color)
        return out

    def run_texture(self, request, ctx):
        self.requests.append(request)
        color = request.sample.reshape(-1, request.sample.shape[2])[:, :3].mean(0)
        return (yield from self._drive(ctx, request.image, request.mask, color))


@pytest.fixture
def fake(monkeypatch):
    runs = FakeRuns()
    monkeypatch.setattr(style_edits, "vgg_available", lambda models_dir: True)
    monkeypatch.setattr(style, "run", runs.run)
    monkeypatch.setattr(style, "run_texture", runs.run_texture)
    return runs


@pytest.fixture
def library(tmp_path):
    lib = StyleLibrary(tmp_path / "styles")
    lib.add_pixels(_solid(RED), "red")
    lib.add_pixels(_solid(BLUE), "blue")
    return lib


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image, library):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, style_library=library)
    win.style_panel.list.setCurrentRow(0)  # a style chosen, as the user does first
    win.errors = []
    monkeypatch.setattr(win, "show_error", lambda title, text: win.errors.append(text))
    win.resize(1000, 760)
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    assert win.open_path(path)
    yield win
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()
    win.deleteLater()


def _select(window, name: str) -> None:
    for row in range(window.style_panel.list.count()):
        if window.style_panel.list.item(row).text() == name:
            window.style_panel.list.setCurrentRow(row)
            return
    raise AssertionError(name)


def _box(window, x0, y0, x1, y1) -> None:
    window.set_tool("rectangle")
    drag(window, [(x0, y0), (x1, y1)])


def _paint(window, points, size=10) -> None:
    paint(window, points, size)


def test_stylise_a_painted_area_sends_the_mask_style_and_options(window, fake, qtbot, rgb_image):
    _paint(window, [(20, 60), (100, 60)])
    mask = window.document.mask.copy()
    assert mask.any()
    _select(window, "blue")
    opts = window.style_options
    opts.method_combo.setCurrentIndex(opts.method_combo.findData("mrf"))
    opts.strength_slider.setValue(80)
    opts.keep_colors_box.setChecked(True)
    opts.scale_box.setValue(2.0)
    opts.iterations_box.setValue(30)
    previews = []
    window.engine.preview.connect(lambda job, update: previews.append(update))
    window.act_stylise.trigger()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    (request,) = fake.requests
    assert isinstance(request, style.StyleRequest)
    assert np.array_equal(request.image, rgb_image)
    (region,) = request.regions
    assert np.array_equal(region.mask, mask) and np.array_equal(region.style, _solid(BLUE))
    assert (request.method, request.strength, request.keep_colors) == ("mrf", 0.8, True)
    assert (request.style_scale, request.iterations) == (2.0, 30)
    assert previews and window.canvas.preview_visible
    assert np.array_equal(window.document.image, rgb_image)  # nothing before Apply
    assert "Stylise (Patches)" in window.job_bar.label.text()
    # the options are remembered for the next start
    assert window.settings.style_method() == "mrf" and window.settings.style_keep_colors()
    assert window.settings.style_iterations() == 30

    commands = window.undo_stack.count()
    window.job_bar.apply_button.click()
    assert window.undo_stack.count() == commands + 1
    image = window.document.image
    assert np.array_equal(image[mask == 0], rgb_image[mask == 0])
    assert not np.array_equal(image[mask > 0], rgb_image[mask > 0])


def test_apply_while_running_keeps_the_current_result_as_one_undo_step(
    window, fake, qtbot, rgb_image
):
    fake.steps, fake.step_s = 10_000, 0.01
    _box(window, 30, 20, 80, 50)
    commands = window.undo_stack.count()
    window.run_stylise()
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    assert window.job_bar.apply_button.isVisible()  # offered while the run goes on
    assert window.job_bar.cancel_button.isVisible()
    with qtbot.waitSignal(window.session.applied, timeout=5000):
        window.job_bar.apply_button.click()
        assert "finishing" in window.job_bar.label.text()
    assert fake.finished_early
    assert window.undo_stack.count() == commands + 1
    assert not window.job_bar.isVisible() and not window.canvas.preview_visible
    assert not np.array_equal(window.document.image, rgb_image)
    assert np.array_equal(window.document.image[60:], rgb_image[60:])
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)


def test_ctrl_return_applies_and_esc_cancels_a_running_stylise(window, fake, qtbot, rgb_image):
    fake.steps, fake.step_s = 10_000, 0.01
    _box(window, 30, 20, 80, 50)
    window.run_stylise()
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    with qtbot.waitSignal(window.engine.cancelled, timeout=5000):
        window.act_cancel.trigger()  # Esc
    assert np.array_equal(window.document.image, rgb_image)
    assert not window.canvas.preview_visible and "cancelled" in window.job_bar.label.text()
    assert window.undo_stack.count() == 1  # the rectangle only

    window.run_stylise()
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    assert window.act_apply.shortcut().toString() == "Ctrl+Return"
    with qtbot.waitSignal(window.session.applied, timeout=5000):
        window.act_apply.trigger()
    assert window.undo_stack.count() == 2


def test_cancel_button_leaves_pixels_unchanged(window, fake, qtbot, rgb_image):
    fake.steps, fake.step_s = 10_000, 0.01
    _box(window, 30, 20, 80, 50)
    window.run_texture()
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    with qtbot.waitSignal(window.engine.cancelled, timeout=5000):
        window.job_bar.cancel_button.click()
    assert np.array_equal(window.document.image, rgb_image)
    assert window.session.pending is None


def test_without_a_mask_the_whole_image_is_stylised(window, fake, qtbot, rgb_image):
    window.run_stylise()
    assert "whole image" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    (region,) = fake.requests[0].regions
    assert region.mask is None and np.array_equal(region.style, _solid(RED))
    window.session.apply()
    assert (window.document.image != rgb_image).any(axis=2).all()


def test_two_regions_with_two_styles_go_into_one_request(window, fake, qtbot, rgb_image):
    _select(window, "red")
    _box(window, 5, 5, 40, 40)
    first = window.document.mask.copy()
    window.act_style_region.trigger()
    assert not window.document.mask.any()  # cleared for the next region
    _select(window, "blue")
    _box(window, 70, 50, 120, 90)
    second = window.document.mask.copy()
    window.style_edits.add_region()
    assert window.style_options.region_list.count() == 2
    assert [r.item.isVisible() for r in window.style_edits.regions] == [True, True]
    window.run_stylise()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert len(fake.requests) == 1
    (a, b) = fake.requests[0].regions
    assert np.array_equal(a.mask, first) and np.array_equal(a.style, _solid(RED))
    assert np.array_equal(b.mask, second) and np.array_equal(b.style, _solid(BLUE))
    assert "2 styles" in window.job_bar.label.text()
    assert not any(r.item.isVisible() for r in window.style_edits.regions)  # result on show
    window.session.apply()
    image = window.document.image
    assert image[20, 20, 0] > image[20, 20, 2] and image[70, 100, 2] > image[70, 100, 0]
    assert np.array_equal(image[60:, :40], rgb_image[60:, :40])
    assert window.style_edits.regions == []  # used up: the next run starts afresh
    assert window.style_options.region_list.count() == 1  # the "None" hint


def test_regions_plus_the_painted_mask_and_removing_regions(window, fake, qtbot):
    _select(window, "red")
    _box(window, 5, 5, 40, 40)
    window.style_edits.add_region()
    _box(window, 50, 5, 60, 15)
    window.style_edits.add_region()
    window.style_options.region_list.setCurrentRow(1)
    window.style_options.remove_region_button.click()
    assert len(window.style_edits.regions) == 1
    _select(window, "blue")
    _box(window, 70, 50, 120, 90)  # painted but not added: runs with the selected style
    window.run_stylise()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    styles = [r.style[0, 0].tolist() for r in fake.requests[0].regions]
    assert styles == [RED.tolist(), BLUE.tolist()]
    window.session.discard()
    window.style_options.clear_regions_button.click()
    assert window.style_edits.regions == []
    assert not [i for i in window.canvas.scene().items() if i.zValue() == 2.9]


def test_successive_stylise_runs_are_separate_undo_steps(window, fake, qtbot, rgb_image):
    _select(window, "red")
    _box(window, 5, 5, 40, 40)
    window.run_stylise()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    window.session.apply()
    after_first = window.document.image.copy()
    _select(window, "blue")
    _box(window, 70, 50, 120, 90)
    window.run_stylise()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    window.session.apply()
    assert window.document.image[70, 100, 2] > window.document.image[70, 100, 0]
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, after_first)
    window.undo_stack.undo()  # the second rectangle
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)


def test_texture_fill_changes_only_masked_pixels(window, fake, qtbot, rgb_image):
    _paint(window, [(30, 70), (90, 70)], size=12)
    mask = window.document.mask.copy()
    _select(window, "blue")
    window.act_texture.trigger()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    (request,) = fake.requests
    assert isinstance(request, style.TextureRequest)
    assert np.array_equal(request.sample, _solid(BLUE)) and np.array_equal(request.mask, mask)
    assert request.sample_scale == window.style_options.scale_box.value()
    assert request.iterations is None  # Auto: the engine's texture default
    window.session.apply()
    image = window.document.image
    assert np.array_equal(image[mask == 0], rgb_image[mask == 0])
    assert (image[mask == 255] != rgb_image[mask == 255]).any()
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)


def test_a_canvas_region_as_texture_sample(window, fake, qtbot, rgb_image):
    _box(window, 30, 20, 70, 40)  # the red block of rgb_image
    window.act_texture_sample.trigger()
    assert not window.document.mask.any()
    assert "40 × 20" in window.style_options.sample_label.text()
    _box(window, 80, 60, 120, 90)
    window.run_texture()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert np.array_equal(fake.requests[0].sample, rgb_image[20:40, 30:70])
    window.style_options.clear_sample_button.click()
    assert window.style_edits.sample is None
    assert "selected style" in window.style_options.sample_label.text()


def test_what_is_missing_is_said_in_the_status_bar(window, fake, qtbot, library):
    window.run_texture()
    assert "Paint where the texture goes" in window.statusBar().currentMessage()
    window.style_edits.add_region()
    assert "Paint where this style goes" in window.statusBar().currentMessage()
    assert not window.style_edits.use_selection_as_sample()
    assert "Select the area" in window.statusBar().currentMessage()
    for entry in library.entries():
        library.remove(entry)
    window.style_panel.refresh()
    assert window.style_panel.current_entry() is None
    assert window.run_stylise() is None
    assert "Pick a style" in window.statusBar().currentMessage()
    assert fake.requests == []


def test_style_actions_live_in_image_style_menu(window):
    image_menu = next(
        a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Image"
    )
    style_menu = next(
        a.menu() for a in image_menu.actions() if a.menu() and a.text().replace("&", "") == "Style"
    )
    texts = [a.text().replace("&", "") for a in style_menu.actions() if a.text()]
    assert "Stylise Masked Area" in texts and "Fill with Texture" in texts
    assert "Use Selection as Texture Sample" in texts and "Add Region" in texts
    assert window.act_stylise.shortcut().toString() == "Ctrl+Alt+S"
    assert window.act_texture.shortcut().toString() == "Ctrl+Shift+T"


def test_apply_during_an_edit_that_cannot_finish_early_waits(window, qtbot, rgb_image):
    import threading

    release = threading.Event()

    def plain(ctx):  # not finishable: runs to its end
        yield Update(progress=0.1, preview=rgb_image[:8, :8])
        release.wait(5)
        return 255 - rgb_image

    window.session.submit("Plain", plain)
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    assert not window.job_bar.apply_button.isVisible()
    assert not window.session.apply()  # Ctrl+Return does nothing yet
    assert window.job_bar.isVisible() and window.job_bar.cancel_button.isVisible()
    release.set()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert window.session.apply()
    assert np.array_equal(window.document.image, 255 - rgb_image)


def test_without_feature_weights_the_style_tools_say_what_is_needed(window, qtbot, rgb_image):
    _box(window, 30, 20, 80, 50)
    assert window.run_stylise() is None  # no models folder set, nothing in the user dirs
    assert "VGG19 feature weights" in window.statusBar().currentMessage()
    assert "Edit ▸ Models" in window.job_bar.label.text() and window.job_bar.isVisible()
    assert window.run_texture() is None
    assert not window.engine.busy
    assert np.array_equal(window.document.image, rgb_image)


def test_iterations_default_to_auto_and_auto_is_remembered(window, fake, qtbot, rgb_image):
    opts = window.style_options
    assert opts.iterations_box.value() == opts.iterations_box.minimum()
    assert opts.iterations_box.text() == "Auto"
    _select(window, "red")
    window.act_stylise.trigger()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    (request,) = fake.requests
    assert request.iterations is None  # the network's own default (style.default_iterations)
    window.job_bar.cancel_button.click()
    opts.iterations_box.setValue(40)
    assert window.settings.style_iterations() == 40
    opts.iterations_box.setValue(opts.iterations_box.minimum())
    assert window.settings.style_iterations() is None
    assert opts.params().iterations is None
