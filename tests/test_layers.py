"""The architecture holds: layers (import-linter contracts in pyproject.toml) and no import cycle."""

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "models", "features")


def test_import_linter_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_itself_through_others():
    """Every static import counts, also the ones inside functions that used to hide cycles; benchmarks too."""
    graph = grimp.build_graph(*PACKAGES, "benchmarks")
    modules = sorted(m for m in graph.modules if m.split(".")[0] in (*PACKAGES, "benchmarks"))
    cycles = [
        (a, b) for a, b in itertools.combinations(modules, 2)
        if graph.direct_import_exists(importer=a, imported=b) and graph.chain_exists(importer=b, imported=a)
    ]
    assert not cycles, f"import cycles through: {cycles}"


@pytest.mark.parametrize("package", ["models", "features"])
def test_lower_layers_never_import_pipeline(package):
    graph = grimp.build_graph(*PACKAGES)
    below = [m for m in graph.modules if m.split(".")[0] == package]
    above = [m for m in graph.modules if m.split(".")[0] == "pipeline"]
    reached = [(a, b) for a in below for b in above if graph.chain_exists(importer=a, imported=b)]
    assert not reached, f"{package} reaches pipeline: {reached}"
