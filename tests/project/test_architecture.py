"""ARCHITECTURE.md tells the truth about the tree and its import contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "tap_mx_audience"
ARCHITECTURE = (REPO_ROOT / "ARCHITECTURE.md").read_text()


def _section(title: str) -> str:
    return ARCHITECTURE.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _drawn_layers() -> list[set[str]]:
    """The layers of the drawing, top to bottom, as module names."""
    drawing = re.search(r"```text\n(.*?)```", _section("Layers"), re.DOTALL)
    assert drawing is not None
    layers = []
    for line in drawing[1].splitlines():
        if not line.strip() or line.strip() == "▼":
            continue
        names = re.split(r"\s{2,}", line.strip())[0]
        layers.append(
            {
                name.strip().removesuffix("/").removesuffix(".py")
                for name in names.split("|")
            }
        )
    return layers


def test_every_module_is_named() -> None:
    rows = [line for line in _section("Modules").splitlines() if line.startswith("|")]
    named = set(re.findall(r"`([\w/]+\.py)`", "\n".join(rows)))
    modules = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")}
    assert modules - named == set()
    assert named - modules == set()


def test_the_drawing_is_the_import_contract() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    (contract,) = (
        c
        for c in pyproject["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers"
    )
    layers = [
        {name.strip() for name in layer.split("|")} for layer in contract["layers"]
    ]
    assert _drawn_layers() == layers
