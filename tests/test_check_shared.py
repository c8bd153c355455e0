"""scripts/check-shared.sh, which .ci/run calls first: a missing or incomplete ../shared fails CI
with one line instead of letting a quarter of the suite skip."""

from __future__ import annotations

import hashlib
import subprocess

from conftest import REPO

SCRIPT = REPO / "scripts" / "check-shared.sh"


def _shared(root, files: dict[str, bytes]) -> None:
    for part in ("models", "data"):
        folder = root / part
        folder.mkdir(parents=True)
        lines = []
        for name, data in files.items():
            (folder / name).write_bytes(data)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  ./{name}\n")
        (folder / "SHA256SUMS").write_text("".join(lines))


def _check(root) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), str(root)], capture_output=True, text=True)


def test_complete_shared_passes(tmp_path):
    _shared(tmp_path, {"a.bin": b"weights", "b.png": b"pixels"})
    result = _check(tmp_path)
    assert result.returncode == 0 and result.stderr == ""


def test_missing_or_changed_files_fail_in_one_line(tmp_path):
    result = _check(tmp_path / "nowhere")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "models" in result.stderr
    _shared(tmp_path, {"a.bin": b"weights", "b.png": b"pixels"})
    (tmp_path / "data" / "b.png").write_bytes(b"other pixels")
    result = _check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "../shared/data" in result.stderr
    assert "b.png" in result.stderr
    (tmp_path / "models" / "a.bin").unlink()
    result = _check(tmp_path)
    assert result.returncode == 1 and "../shared/models" in result.stderr
