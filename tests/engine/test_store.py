"""The model store against a real HTTP server on 127.0.0.1: resume, checks, offline, import."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from http_server import DATA, DATA_SHA, FILE_NAME, tiny_registry

from editor.engine import store as store_module
from editor.engine.jobs import JobCancelled
from editor.engine.store import (
    ChecksumMismatch,
    ModelError,
    ModelMissing,
    ModelStore,
    load_registry,
    load_state_dict,
)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    return {name: tmp_path / name for name in ("explicit", "models", "user")}


def make_store(dirs, registry, models=True) -> ModelStore:
    return ModelStore(
        models_dir=dirs["models"] if models else None, user_dir=dirs["user"], registry=registry
    )


def put(root: Path, data: bytes = DATA, name: str = FILE_NAME) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------ downloads


def test_fetch_reports_progress_and_ends_with_the_verified_file(server, dirs):
    store = make_store(dirs, tiny_registry(server.url))
    events: list[tuple[int, int | None, str]] = []

    where = store.fetch("tiny", progress=lambda d, t, m: events.append((d, t, m)))

    assert where == dirs["user"]
    assert (dirs["user"] / FILE_NAME).read_bytes() == DATA
    assert not (dirs["user"] / (FILE_NAME + ".part")).exists()
    assert len(events) > 3
    done = [d for d, _, _ in events]
    assert done == sorted(done) and done[-1] == len(DATA)
    assert all(t == len(DATA) for _, t, _ in events)
    assert events[-1][2] == "verified"
    assert store.file_path("tiny") == dirs["user"] / FILE_NAME


def test_interrupted_fetch_keeps_part_and_resumes_with_range(server, dirs):
    store = make_store(dirs, tiny_registry(server.url))
    part = dirs["user"] / (FILE_NAME + ".part")
    server.mode = "drop"
    with pytest.raises(ModelMissing) as err:
        store.fetch("tiny")
    assert "tiny.bin" in str(err.value)
    half = len(DATA) // 2
    assert part.stat().st_size == half
    assert not (dirs["user"] / FILE_NAME).exists()

    server.mode = "ok"
    store.fetch("tiny")

    last = server.requests[-1]
    assert last["range"] == f"bytes={half}-"
    assert last["status"] == 206 and last["sent"] == len(DATA) - half
    assert (dirs["user"] / FILE_NAME).read_bytes() == DATA
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(server, dirs):
    store = make_store(dirs, tiny_registry(server.url))
    part = put(dirs["user"], DATA[:1000], FILE_NAME + ".part")
    server.mode = "no-range"
    store.fetch("tiny")
    assert server.requests[-1]["range"] == "bytes=1000-"
    assert server.requests[-1]["status"] == 200  # whole file again: must not be appended
    assert (dirs["user"] / FILE_NAME).read_bytes() == DATA
    assert not part.exists()


def test_checksum_mismatch_leaves_nothing_in_place(server, dirs):
    store = make_store(dirs, tiny_registry(server.url))
    server.mode = "wrong"
    with pytest.raises(ChecksumMismatch):
        store.fetch("tiny")
    assert not (dirs["user"] / FILE_NAME).exists()
    assert not (dirs["user"] / (FILE_NAME + ".part")).exists()


def test_prefix_only_entry_is_verified_by_its_prefix(server, dirs):
    good = tiny_registry(server.url, sha256=None, prefix=DATA_SHA[:8], size=None)
    assert make_store(dirs, good).fetch("tiny") == dirs["user"]

    (dirs["user"] / FILE_NAME).unlink()
    wrong_prefix = "0" * 8 if not DATA_SHA.startswith("0" * 8) else "f" * 8
    bad = tiny_registry(server.url, sha256=None, prefix=wrong_prefix, size=None)
    with pytest.raises(ChecksumMismatch):
        make_store(dirs, bad).fetch("tiny")
    assert not (dirs["user"] / FILE_NAME).exists()


def test_cancel_stops_cleanly_and_keeps_the_part(server, dirs):
    store = make_store(dirs, tiny_registry(server.url))
    cancel = threading.Event()
    with pytest.raises(JobCancelled):
        store.fetch("tiny", progress=lambda *_: cancel.set(), cancel=cancel)
    assert (dirs["user"] / (FILE_NAME + ".part")).stat().st_size > 0
    assert not (dirs["user"] / FILE_NAME).exists()


def test_offline_says_which_file_goes_where(dirs):
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = make_store(dirs, tiny_registry(f"http://127.0.0.1:{port}/tiny.bin"))
    with pytest.raises(ModelMissing) as err:
        store.fetch("tiny")
    message = str(err.value)
    assert FILE_NAME in message and str(dirs["user"]) in message
    assert f"127.0.0.1:{port}" in message and "SEMEDIT_MODELS" in message
    assert "\n" not in message


def test_missing_model_without_url_names_file_and_folder(dirs):
    store = make_store(dirs, tiny_registry(None))
    with pytest.raises(ModelMissing) as err:
        store.file_path("tiny")
    assert FILE_NAME in str(err.value) and str(dirs["user"]) in str(err.value)
    with pytest.raises(ModelMissing):
        store.fetch("tiny")


# --------------------------------------------------------------------------------- resolution


def test_resolution_order_explicit_then_models_dir_then_user_dir(dirs):
    store = make_store(dirs, tiny_registry(None))
    in_user = put(dirs["user"])
    assert store.file_path("tiny") == in_user
    in_models = put(dirs["models"])
    assert store.file_path("tiny") == in_models
    assert store.locate("tiny") == dirs["models"]
    explicit = put(dirs["explicit"], name="renamed.bin")
    assert store.file_path("tiny", path=explicit) == explicit
    assert store.locate("tiny", path=explicit) == explicit
    # A folder given explicitly may hold the file flat (no sub-folder).
    flat = put(dirs["explicit"], name="tiny.bin")
    assert store.file_path("tiny", path=dirs["explicit"]) == flat


def test_a_bad_explicit_path_is_an_error_not_a_silent_fallback(dirs):
    store = make_store(dirs, tiny_registry(None))
    put(dirs["models"])
    wrong = put(dirs["explicit"], DATA[:-1], "wrong.bin")
    with pytest.raises(ChecksumMismatch):
        store.file_path("tiny", path=wrong)
    with pytest.raises(ModelMissing):
        store.file_path("tiny", path=dirs["explicit"] / "nope.bin")


def test_status_present_missing_corrupt_and_truncated_copy_never_used(dirs):
    store = make_store(dirs, tiny_registry(None))
    assert [(i.id, s, w) for i, s, w in store.status()] == [("tiny", "missing", None)]

    put(dirs["models"], DATA[: len(DATA) // 2])  # truncated
    assert [(s, w) for _, s, w in store.status()] == [("corrupt", dirs["models"])]
    with pytest.raises(ModelMissing):
        store.file_path("tiny")

    good = put(dirs["user"])
    assert [(s, w) for _, s, w in store.status()] == [("present", dirs["user"])]
    assert store.file_path("tiny") == good


def test_same_size_wrong_bytes_is_corrupt(dirs):
    store = make_store(dirs, tiny_registry(None))
    put(dirs["models"], bytes(len(DATA)))
    assert store.status()[0][1] == "corrupt"


def test_digest_is_cached_by_path_size_and_mtime(dirs, monkeypatch):
    put(dirs["models"])
    calls: list[Path] = []
    real = store_module.sha256_file
    monkeypatch.setattr(store_module, "sha256_file", lambda p: calls.append(p) or real(p))

    make_store(dirs, tiny_registry(None)).file_path("tiny")
    make_store(dirs, tiny_registry(None)).file_path("tiny")  # a new store: the cache is on disk
    assert len(calls) == 1

    path = dirs["models"] / FILE_NAME
    path.write_bytes(bytes(len(DATA)))  # same size, new bytes, new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert make_store(dirs, tiny_registry(None)).status()[0][1] == "corrupt"
    assert len(calls) == 2


def test_a_file_patched_in_place_with_its_old_mtime_is_hashed_again(dirs):
    path = put(dirs["models"])
    assert make_store(dirs, tiny_registry(None)).status()[0][1] == "present"
    before = path.stat()
    with open(path, "r+b") as f:  # one byte changed in place, same size ...
        f.seek(len(DATA) // 2)
        f.write(bytes([DATA[len(DATA) // 2] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... and the old mtime back
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert make_store(dirs, tiny_registry(None)).status()[0][1] == "corrupt"


# ------------------------------------------------------------------------------------- import


def test_import_of_a_known_file_lands_it_in_the_user_dir(dirs):
    store = make_store(dirs, tiny_registry(None), models=False)
    source = put(dirs["explicit"], name="download (1).bin")
    model_id, dest = store.import_file(source)
    assert (model_id, dest) == ("tiny", dirs["user"] / FILE_NAME)
    assert dest.read_bytes() == DATA and source.exists()
    assert store.status()[0][1] == "present"
    assert [p.name for p in dirs["user"].iterdir()] == ["tiny"]  # no temp file left behind


def test_import_of_an_unknown_file_errors_and_leaves_nothing(dirs):
    store = make_store(dirs, tiny_registry(None), models=False)
    same_size = put(dirs["explicit"], bytes(len(DATA)), "other.bin")
    with pytest.raises(ModelError, match="not a model file"):
        store.import_file(same_size)
    with pytest.raises(ModelError, match="not a model file"):
        store.import_file(put(dirs["explicit"], b"small", "small.bin"))
    assert not (dirs["user"] / FILE_NAME).exists()
    assert not any(p.is_file() for p in dirs["user"].rglob("*"))


# ------------------------------------------------------------------------------------ weights


def test_load_state_dict_reads_plain_and_wrapped_torch_files_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    sd = {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.zeros(4)}
    torch.save(sd, tmp_path / "plain.pt")
    torch.save({"epoch": 20, "model": sd}, tmp_path / "wrapped.pth")
    torch.save({"state_dict": sd, "optimizer": {}}, tmp_path / "ckpt.pth")
    save_file(sd, str(tmp_path / "w.safetensors"))
    for name in ("plain.pt", "wrapped.pth", "ckpt.pth", "w.safetensors"):
        loaded = load_state_dict(tmp_path / name)
        assert set(loaded) == set(sd), name
        assert torch.equal(loaded["conv.weight"], sd["conv.weight"])


RAN: list[str] = []


def _record(tag: str) -> str:
    RAN.append(tag)
    return tag


class Payload:
    """Stands for a malicious pickle: unpickling it would call `_record`."""

    def __reduce__(self):
        return (_record, ("code ran",))


def test_load_state_dict_refuses_pickled_objects_without_running_them(tmp_path):
    torch.save({"weight": torch.zeros(1), "payload": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ModelError, match="evil.pth"):
        load_state_dict(tmp_path / "evil.pth")
    assert RAN == []
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ModelError):
        load_state_dict(tmp_path / "junk.pth")
    with pytest.raises(ModelMissing):
        load_state_dict(tmp_path / "absent.pth")


# ----------------------------------------------------------------------------------- registry


def test_packaged_registry_entries():
    registry = load_registry()
    assert {"vgg19-torchvision", "vgg19-conv3", "wct16x"} <= set(registry)
    tv = registry["vgg19-torchvision"].file()
    assert tv.sha256 is None and tv.sha256_prefix == "dcbb9e9d" and tv.url.endswith(tv.name[6:])
    wct = registry["wct16x"]
    assert len(wct.files) == 10
    assert all(
        f.url.startswith(
            "https://raw.githubusercontent.com/MingSun-Tse/Collaborative-Distillation/"
            "4a269dc90020721ef9b279b2926c62f5bcd6d209/trained_models/"
        )
        and f.sha256
        and f.size
        for f in wct.files
    )
    assert registry["vgg19-conv3"].input["order"] == "BGR"


def test_registry_matches_the_shared_models(shared_models, dirs):
    registry = load_registry()
    store = ModelStore(models_dir=shared_models, user_dir=dirs["user"], registry=registry)
    states = {info.id: state for info, state, _ in store.status()}
    assert states["vgg19-conv3"] == "present"
    assert states["wct16x"] == "present"
    assert store.file_path("wct16x", "encoder5.pth") == shared_models / "wct16x/encoder5.pth"
    enc = store.load("wct16x", "encoder1.pth")  # {"epoch", "model": sd} unwrapped
    assert "conv0.weight" in enc and "epoch" not in enc


def test_import_of_a_copy_of_a_registry_file(shared_models, dirs, tmp_path):
    registry = {"wct16x": replace(load_registry()["wct16x"])}
    store = ModelStore(user_dir=dirs["user"], registry=registry)
    copy = tmp_path / "some name.pth"
    copy.write_bytes((shared_models / "wct16x/decoder2.pth").read_bytes())
    assert store.import_file(copy) == ("wct16x", dirs["user"] / "wct16x/decoder2.pth")


def test_a_stalled_download_says_how_much_arrived_and_keeps_it(server, tmp_path):
    from editor.engine.download import DownloadError, download_to_part

    server.mode = "gate"  # half the file, then nothing until the gate opens
    part = tmp_path / "tiny.bin.part"
    with pytest.raises(DownloadError) as raised:
        download_to_part(server.url, part, timeout=0.5)
    half = len(DATA) // 2
    assert f"after {half} bytes" in str(raised.value)
    assert part.read_bytes() == DATA[:half]  # kept for the resume
