"""The types hold: mypy passes on pipeline/, models/ and features/, and every config travels annotated."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("pipeline", "models", "features", "benchmarks")


def test_mypy_finds_no_error():
    mypy = shutil.which("mypy") or str(Path(sys.executable).parent / "mypy")
    done = subprocess.run([mypy, "--config-file", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def _parameters(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                yield node, arg


@pytest.mark.parametrize("package", CHECKED)
def test_every_cfg_or_config_parameter_is_annotated(package):
    bare = [f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}({arg.arg})"
            for path in sorted((ROOT / package).rglob("*.py"))
            for fn, arg in _parameters(ast.parse(path.read_text()))
            if arg.arg in ("cfg", "config") and arg.annotation is None]
    assert not bare, "unannotated config parameters: " + "; ".join(bare)
