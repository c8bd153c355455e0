"""The installed package knows nothing of the repository around it: the project's training
defaults (../shared photos, weights into the package, training/ logs) live in tools/."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from editor.engine.train_args import parse_style_args, parse_upscaler_args

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "editor"
#: Folders of the checkout (or beside it) that an installed package does not have.
REPOSITORY_FOLDERS = {"shared", "training", "tools", "benchmarks"}
#: Modules whose own files may lead out of the package, each with its reason.
ALLOWED_CLIMBS = {
    # resources/icons sits beside `editor` in a checkout *and* in the PyInstaller bundle.
    "editor/ui/app_icon.py",
}
ALLOWED_NAMES = {
    # the checkpoints of interrupted trainings, inside the user's fast-styles folder
    ("editor/engine/edits/train_style_job.py", "training"),
}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text("utf-8"))


def _climb(node: ast.AST) -> tuple[int, ast.AST]:
    """How many folders `node` climbs from its innermost operand, and that operand
    (`Path(__file__).resolve().parents[2]` -> 3, `__file__`)."""
    levels = 0
    while True:
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            levels, node = levels + 1, node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
        ):
            index = node.slice.value if isinstance(node.slice, ast.Constant) else 99
            levels, node = levels + int(index) + 1, node.value.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "dirname" and node.args:  # os.path.dirname(x)
                levels, node = levels + 1, node.args[0]
            elif node.func.attr in ("resolve", "absolute"):
                node = node.func.value
            else:
                return levels, node
        elif isinstance(node, ast.Call) and node.args:  # Path(x)
            node = node.args[0]
        else:
            return levels, node


def test_the_package_never_climbs_out_of_itself_from_its_own_files():
    climbs = []
    for module, tree in _sources():
        if module in ALLOWED_CLIMBS:
            continue
        for node in ast.walk(tree):
            levels, root = _climb(node)
            if isinstance(root, ast.Name) and root.id == "__file__":
                depth = module.count("/")  # editor/engine/x.py: up to two folders (editor)
            elif isinstance(root, ast.Attribute) and root.attr == "__file__":
                depth = 1  # some_package.__file__: its __init__.py
            else:
                continue
            if levels > depth:
                climbs.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert climbs == []


def _path_parts(tree: ast.AST):
    """The strings a path is built from: `x / "a/b"`, `Path("a", "b")`, `x.joinpath("a")`,
    `os.path.join(x, "a")`."""
    for node in ast.walk(tree):
        operands = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            operands = [node.left, node.right]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("Path", "PurePath", "joinpath", "join"):
                operands = node.args
        for operand in operands:
            if isinstance(operand, ast.Constant) and isinstance(operand.value, str):
                yield operand


def test_the_package_builds_no_path_into_the_repository():
    """No path the package builds names ../shared, training/, tools/ or benchmarks/."""
    named = []
    for module, tree in _sources():
        for node in _path_parts(tree):
            parts = set(node.value.split("/"))
            named_here = {n for n in parts & REPOSITORY_FOLDERS if (module, n) not in ALLOWED_NAMES}
            if named_here or ".." in parts:
                named.append(f"{module}:{node.lineno}: {node.value!r}")
    assert named == []


@pytest.fixture
def tools(monkeypatch):
    """tools/ on sys.path, as when a script there runs; its train_* modules imported fresh."""
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    for name in ("project_paths", "train_upscaler", "train_style"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("project_paths")


def test_tools_train_upscaler_passes_the_repository_defaults(tools, monkeypatch):
    script = importlib.import_module("train_upscaler")
    args = parse_upscaler_args(script.project_argv(["--scale", "4", "--minutes", "3"]))
    assert args.scale == 4 and args.minutes == 3
    assert args.images == tools.SHARED_DATA / "train" / "sun_hays80"
    assert args.out == REPO / "editor" / "resources" / "models" / "upscaler_x4.safetensors"
    assert args.checkpoint == REPO / "training" / "checkpoints" / "sr_x4.ckpt.safetensors"
    assert args.log == REPO / "training" / "logs" / "sr_x4.log"
    assert args.test_sets == REPO.parent / "shared" / "data"
    # What the command line says wins over a default.
    args = parse_upscaler_args(script.project_argv(["--scale", "2", "--images", "mine", "-o", "x"]))
    assert args.images == Path("mine") and args.out == Path("x")
    assert args.checkpoint == REPO / "training" / "checkpoints" / "sr_x2.ckpt.safetensors"
    # main hands the package's trainer the full command line.
    seen = []
    monkeypatch.setattr("editor.engine.train_upscaler.main", lambda argv: seen.append(argv) or 0)
    assert script.main(["--scale", "3"]) == 0
    assert seen == [script.project_argv(["--scale", "3"])]


def test_tools_train_style_passes_the_repository_defaults(tools, monkeypatch):
    script = importlib.import_module("train_style")
    painting = "../shared/data/style/the_scream.jpg"
    args = parse_style_args(script.project_argv([painting, "--minutes", "22", "--resume"]))
    assert args.style == Path(painting) and args.minutes == 22 and args.resume
    assert args.images == REPO.parent / "shared" / "data" / "train" / "sun_hays80"
    styles = REPO / "editor" / "resources" / "models" / "styles"
    assert args.out == styles / "the_scream.safetensors"
    training = REPO / "training" / "styles"
    assert args.checkpoint == training / "the_scream.ckpt.safetensors"
    assert args.log == training / "the_scream.log"
    assert args.preview == training / "the_scream_preview.png"
    if tools.PREVIEW_PHOTO.exists():
        assert args.preview_image == REPO.parent / "shared" / "data" / "content" / "golden_gate.jpg"
    if tools.SHARED_MODELS.is_dir():
        assert args.models_dir == REPO.parent / "shared" / "models"
    # An -o of its own names the training files; options before the painting still parse.
    argv = ["--minutes", "5", "p.jpg", "-o", "/tmp/mine.safetensors", "--log", "l.log"]
    args = parse_style_args(script.project_argv(argv))
    assert args.style == Path("p.jpg") and args.out == Path("/tmp/mine.safetensors")
    assert args.checkpoint == training / "mine.ckpt.safetensors" and args.log == Path("l.log")
    seen = []
    monkeypatch.setattr("editor.engine.train_style.main", lambda argv: seen.append(argv) or 0)
    assert script.main([painting]) == 0
    assert seen == [script.project_argv([painting])]
