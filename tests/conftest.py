"""Shared fixtures: device option, seeding, the read-only ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

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


os.environ.setdefault("YOLO_OFFLINE", "1")
