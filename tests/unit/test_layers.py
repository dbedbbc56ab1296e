"""The package's layers: each subpackage imports only from the layers below it.

Read from the source with ``ast`` (imports inside functions count too), so a
new upward import fails here before it makes the layers a tangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "safes3"

LAYERS = {
    "leaves": 0,
    "_core": 1,
    "_credentials": 2,
    "_transfer": 3,
    "client": 4,
    "_bulk": 5,
    "_filesystem": 5,
    "_cli": 6,
    "api": 7,
}
"""Lower may not import higher; equal ranks may not import each other unless the same package."""

LEAVES = {"_exceptions", "_boundary", "_secret", "_redact", "_tls"}
CLIENT = {"_config", "_session"}
API = {"__init__", "__main__"}


def layer_of(parts: tuple[str, ...]) -> str:
    """The layer of a module, from its path inside the package (``("_core", "_gate")``)."""
    head = parts[0]
    if head in LAYERS:
        return head
    if head in LEAVES:
        return "leaves"
    if head in CLIENT:
        return "client"
    if head in API:
        return "api"
    raise AssertionError(f"safes3/{'/'.join(parts)}.py belongs to no layer: add it to LAYERS")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [
                f"{node.module}.{a.name}"
                for a in node.names
                if node.module != "safes3"
                or (PACKAGE / a.name).is_dir()
                or (PACKAGE / f"{a.name}.py").exists()
            ]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = tuple(name.split("."))
            if parts[0] == "safes3" and len(parts) > 1 and parts[1] != "":
                found.add(parts[1:2])
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    mine = layer_of(parts)
    for target in imported(path):
        theirs = layer_of(target)
        if theirs == mine:
            continue
        assert LAYERS[theirs] < LAYERS[mine], (
            f"safes3/{'/'.join(parts)}.py ({mine}) imports safes3.{target[0]} ({theirs}): "
            "imports must point down the layers"
        )


def test_modules_and_classes_stay_small() -> None:
    too_long = []
    for path in modules():
        text = path.read_text()
        if text.count("\n") > 400:
            too_long.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > 200:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.name}: {length} lines")
    assert too_long == []
