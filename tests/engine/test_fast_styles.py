"""Fast styles: listing shipped + user styles, loading by name or path, clear errors, caching."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from editor.engine.models import fast_styles
from editor.ops.transform_net import TransformNet, metadata_for


def _write_net(path, **meta):
    net = TransformNet((8, 8, 8), 1)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(path), metadata={**metadata_for(net), **meta})
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    fast_styles.clear_cache()
    yield
    fast_styles.clear_cache()


def test_lists_shipped_then_user_styles_with_descriptions(tmp_path):
    user = tmp_path / "fast"
    user.mkdir()
    _write_net(user / "mine.safetensors", description="My sunset\nstyle", style_image="x.jpg")
    _write_net(user / "mine.ckpt.safetensors")  # a training checkpoint is not a style
    (user / "junk.safetensors").write_bytes(b"not a safetensors file")
    styles = fast_styles.list_fast_styles(user)
    names = [s.name for s in styles]
    assert "starry_night" in names  # shipped (at least this one exists)
    assert names[-1] == "mine" and names.count("mine") == 1 and "junk" not in names
    shipped = [s for s in styles if s.shipped]
    assert shipped and all(s.path.parent == fast_styles.shipped_dir() for s in shipped)
    mine = styles[-1]
    assert not mine.shipped and mine.description == "My sunset style"
    assert mine.style_image == "x.jpg"
    starry = next(s for s in styles if s.name == "starry_night")
    assert "starry_night" in starry.description


def test_a_user_style_replaces_a_shipped_one_of_its_name(tmp_path):
    _write_net(tmp_path / "starry_night.safetensors")
    styles = fast_styles.list_fast_styles(tmp_path)
    starry = [s for s in styles if s.name == "starry_night"]
    assert len(starry) == 1 and not starry[0].shipped


def test_default_user_folder_is_in_the_user_data_dir():
    assert fast_styles.user_dir().parts[-2:] == ("styles", "fast")


def test_load_by_name_or_path_is_cached_per_file_and_device(tmp_path):
    net = fast_styles.load_fast_style("starry_night")
    assert isinstance(net, TransformNet) and not net.training
    assert fast_styles.load_fast_style("starry_night", "cpu") is net
    assert fast_styles.load_fast_style("Starry Night") is net  # forgiving about case/spaces
    path = _write_net(tmp_path / "mine.safetensors")
    mine = fast_styles.load_fast_style(path)
    assert mine.channels == (8, 8, 8)
    assert fast_styles.load_fast_style(str(path)) is mine
    x = torch.rand(1, 3, 20, 24)
    assert mine(x).shape == x.shape


def test_user_styles_load_by_name(tmp_path):
    _write_net(tmp_path / "mine.safetensors")
    net = fast_styles.load_fast_style("mine", user_folder=tmp_path)
    assert net.channels == (8, 8, 8)


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(
        fast_styles.FastStyleError, match="no fast style named 'nope'.*starry_night"
    ):
        fast_styles.load_fast_style("nope", user_folder=tmp_path)


def test_files_that_are_not_style_networks_are_refused(tmp_path):
    pickle = tmp_path / "net.pth"
    pickle.write_bytes(b"\x80\x04")
    with pytest.raises(fast_styles.FastStyleError, match="safetensors"):
        fast_styles.load_fast_style(pickle)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"garbage")
    with pytest.raises(fast_styles.FastStyleError, match="not a fast style network"):
        fast_styles.load_fast_style(junk)
    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(other), metadata={"architecture": "Upscaler"})
    with pytest.raises(fast_styles.FastStyleError, match="not a fast style network"):
        fast_styles.load_fast_style(other)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"weight": torch.zeros(3)}, str(wrong))
    with pytest.raises(fast_styles.FastStyleError, match="not a fast style network"):
        fast_styles.check_style_file(wrong)
    with pytest.raises(fast_styles.FastStyleError, match="no fast style file"):
        fast_styles.load_fast_style(tmp_path / "missing.safetensors")
