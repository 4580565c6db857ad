"""Shared fixtures: device option, seeding, the read-only ../shared data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PARITY = SHARED / "data" / "zerodce-parity"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu", help="device for device-parametrised tests (default cpu)")


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    dev = torch.device(request.config.getoption("--device"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    return dev


@pytest.fixture(autouse=True)
def _seed_and_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    cfg = tmp_path_factory.getbasetemp() / "config"
    cfg.mkdir(exist_ok=True)
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("MPLCONFIGDIR", str(cfg))
    monkeypatch.setenv("YOLO_OFFLINE", "1")


def _shared_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available (the read-only ../shared folder is absent)")
    return path


@pytest.fixture
def parity_dir() -> Path:
    return _shared_file(PARITY)


@pytest.fixture
def official_zerodce() -> Path:
    return _shared_file(PARITY / "zerodce_official_Epoch99.pth")


@pytest.fixture
def official_zerodcepp() -> Path:
    return _shared_file(PARITY / "zerodcepp_official_Epoch99.pth")


@pytest.fixture
def shared_dir() -> Path:
    return _shared_file(SHARED)


@pytest.fixture
def write_scenes() -> Callable[..., Path]:
    """Factory: demo scenes as a tiny dark YOLO dataset; returns its data.yaml.

    ``write_scenes(root, splits=("val",), n=6, size=64, seed=5, gain=0.3, ext=".jpg", names=None)``;
    ``train``/``val`` keys point at the first/last split given.
    """
    from lowlight_det.demo import CLASSES, SIZE, make_scene

    def write(root: Path, *, splits: tuple[str, ...] = ("val",), n: int = 6, size: int = 64, seed: int = 5,
              gain: float = 0.3, ext: str = ".jpg", names: list[str] | None = None) -> Path:
        for split in splits:
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img, labels = make_scene(seed, i)
                small = (cv2.resize(img, (size, size)) * gain).astype(np.uint8)
                cv2.imwrite(str(root / "images" / split / f"{i}{ext}"), small)
                (root / "labels" / split / f"{i}.txt").write_text("".join(
                    f"{c} {(x1 + x2) / 2 / SIZE:.4f} {(y1 + y2) / 2 / SIZE:.4f} {(x2 - x1) / SIZE:.4f} "
                    f"{(y2 - y1) / SIZE:.4f}\n" for c, x1, y1, x2, y2 in labels))
        (root / "data.yaml").write_text(f"path: {root}\ntrain: images/{splits[0]}\nval: images/{splits[-1]}\n"
                                        f"names: {list(names or CLASSES)}\n")
        return root / "data.yaml"

    return write


os.environ.setdefault("YOLO_OFFLINE", "1")
# Import Ultralytics once, now, through lowlight_det (quiet, offline, safe loading), so its logger binds the
# session's stdout and not the stream of whichever test's capsys happened to import it first (closed later).
import lowlight_det.detection.ultralytics  # noqa: E402,F401
