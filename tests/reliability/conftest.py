"""Helpers for the reliability catalogue: run an entry point, capture what the user sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest


class Outcome:
    """Exit code and stderr of one entry-point call; never a traceback."""

    def __init__(self, code: int, err: str, out: str) -> None:
        self.code, self.err, self.out = code, err, out
        assert "Traceback" not in err, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    def run(main: Callable[[Sequence[str]], int], args: Sequence[str]) -> Outcome:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse rejects a flag
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.err, captured.out)

    return run


@pytest.fixture
def evil_pickle(tmp_path: Path) -> tuple[Path, Path]:
    """(a .pt whose unpickling runs code, the file that code would create)."""
    import torch

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil(), "state_dict": {}}, path)
    return path, marker


@pytest.fixture
def image_file() -> Callable[..., Path]:
    """Factory: ``image_file(path, w=64, h=48, value=60)`` writes a flat grey image and returns its path."""

    def write(path: Path, w: int = 64, h: int = 48, value: int = 60) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((h, w, 3), value, np.uint8))
        return path

    return write
