"""The package's layers only point down, and the optional or heavy dependencies stay where they belong."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lowlight_det"

# lower layers never import higher ones; a module may import its own layer and below
LAYERS = {
    "io": 0, "devices": 0, "runinfo": 0,
    "enhancers": 1, "losses": 1,
    "config": 2, "data": 2, "demo": 2,
    "detection": 3, "transforms": 3, "distributed": 3,
    "eval": 4,
    "train": 5,
}
# entry points (argument parsing, logging, threads) sit on top and may import anything
ENTRY_POINTS = {"cli", "enhance", "export", "darken", "finetune", "__init__"}


def _imports(path: Path) -> set[str]:
    return set(re.findall(r"^\s*(?:from|import) lowlight_det\.(\w+)", path.read_text(), flags=re.M))


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_imports_only_point_down() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        if unit in ENTRY_POINTS or path.name == "__main__.py":
            continue
        assert unit in LAYERS, f"{path}: new module {unit!r}: give it a layer in this test"
        for target in _imports(path) - {unit}:
            if target in ENTRY_POINTS or LAYERS.get(target, 99) > LAYERS[unit]:
                upward.append(f"{path.relative_to(PACKAGE)} imports lowlight_det.{target}")
    assert not upward, upward


def test_ultralytics_and_albumentations_stay_in_their_adapters() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(PACKAGE).as_posix()
        if re.search(r"^\s*(?:from|import) ultralytics", text, flags=re.M):
            assert rel == "detection/ultralytics.py", f"{rel} imports ultralytics"
        if re.search(r"^\s*(?:from|import) albumentations", text, flags=re.M):
            assert rel == "transforms/albumentations.py", f"{rel} imports albumentations"


def test_library_code_sets_no_threads_and_no_logging() -> None:
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        if unit in ENTRY_POINTS or path.name == "__main__.py":
            continue
        text = path.read_text()
        assert "basicConfig" not in text and not re.search(r"^\s*print\(", text, flags=re.M), path
