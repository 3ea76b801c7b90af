"""The import layers of shared/guides/architecture.md, as pyproject.toml's import-linter contracts: every contract
is kept, every package has a place in the layers, and a breach of either contract is caught."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ROOT_PACKAGES = ("botrunner", "strategies", "governors", "actors")
# ``python -m botrunner``: two lines that call the CLI, above every layer by construction.
UNLAYERED = {"botrunner.__main__"}
# import-linter's own entry point, run in a fresh interpreter so it analyses the tree at ``cwd`` (it puts ``cwd``
# first on sys.path), without a cache directory left behind.
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_packages"] == list(ROOT_PACKAGES)
    found: list[dict[str, object]] = config["contracts"]
    return found


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_import_contracts_when_checked_then_the_layers_and_the_pure_core_hold() -> None:
    assert {c["id"] for c in contracts()} == {"layers", "pure"}
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_layers_when_listed_then_every_package_has_a_place() -> None:
    (layers,) = (c["layers"] for c in contracts() if c["type"] == "layers")
    assert isinstance(layers, list)
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {name for name in ROOT_PACKAGES if name != "botrunner"}
    packages |= {f"botrunner.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "botrunner")])} - UNLAYERED
    assert packages - placed == set(), "a package outside every layer escapes the contracts"
    assert placed - packages == set(), "a layer names a package that does not exist"


def test_import_contracts_when_a_lower_layer_imports_upward_and_the_bot_logs_then_both_are_broken(
    tmp_path: Path,
) -> None:
    for name in ROOT_PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "botrunner" / "core" / "precision.py").open("a") as f:
        f.write("\nimport botrunner.runtime.pacer\n")  # the core reaching up into the runtime
    with (tmp_path / "botrunner" / "bot" / "pipeline.py").open("a") as f:
        f.write("\nimport structlog\n")  # the pure step logging
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Contracts: 0 kept, 2 broken." in result.stdout, result.stdout + result.stderr
    assert "botrunner.core.precision -> botrunner.runtime.pacer" in result.stdout
    assert "botrunner.bot.pipeline -> structlog" in result.stdout
