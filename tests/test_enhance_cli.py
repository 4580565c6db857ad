"""``python -m lowlight_det.enhance`` on real files, including awkward and broken ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lowlight_det.enhance import main
from lowlight_det.io import read_image


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "in"
    (root / "nested").mkdir(parents=True)
    dark = (rng.random((30, 40, 3)) * 60).astype(np.uint8)
    cv2.imwrite(str(root / "a.png"), dark)
    cv2.imwrite(str(root / "nested" / "B.JPG"), dark)
    cv2.imwrite(str(root / "c.bmp"), dark[:20])
    cv2.imwrite(str(root / "grey.png"), dark[..., 0])
    cv2.imwrite(str(root / "rgba.png"), np.dstack([dark, np.full((30, 40), 77, np.uint8)]))
    cv2.imwrite(str(root / "deep.png"), (rng.random((16, 24, 3)) * 9000).astype(np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(dark[:, :, ::-1].copy()).save(root / "rotated.jpg", exif=exif.tobytes())
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "empty.png").write_bytes(b"")
    return root


def test_folder_recursive_keeps_names_sizes_and_formats(inputs: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main([str(inputs), "--out", str(out), "--enhancer", "gamma", "--batch-size", "2", "-q"])
    assert code == 1  # two broken files
    printed = capsys.readouterr().out
    assert "corrupt.jpg: cannot decode image" in printed and "empty.png: empty file" in printed
    for name in ["a.png", "nested/B.JPG", "c.bmp", "grey.png", "rgba.png", "deep.png", "rotated.jpg"]:
        assert (out / name).is_file(), name
    assert not (out / "corrupt.jpg").exists()
    a_in, a_out = cv2.imread(str(inputs / "a.png")), cv2.imread(str(out / "a.png"))
    assert a_out.shape == a_in.shape and a_out.mean() > a_in.mean() + 20  # gamma 0.5 brightens
    assert cv2.imread(str(out / "c.bmp")).shape == (20, 40, 3)
    assert cv2.imread(str(out / "grey.png"), cv2.IMREAD_UNCHANGED).ndim == 2
    rgba = cv2.imread(str(out / "rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (30, 40, 4) and (rgba[..., 3] == 77).all()
    deep = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape == (16, 24, 3)
    assert deep.mean() > cv2.imread(str(inputs / "deep.png"), cv2.IMREAD_UNCHANGED).mean()
    assert read_image(inputs / "rotated.jpg").rgb.shape == (40, 30, 3)  # EXIF applied on read
    assert cv2.imread(str(out / "rotated.jpg")).shape == (40, 30, 3)


def test_exit_zero_when_all_good_and_batch_matches_single(inputs: Path, tmp_path: Path) -> None:
    files = [str(inputs / "a.png"), str(inputs / "nested" / "B.JPG")]
    assert main([*files, "--out", str(tmp_path / "b4"), "--enhancer", "zerodce", "--weights",
                 str(_random_zerodce(tmp_path)), "--batch-size", "4", "-q"]) == 0
    assert main([*files, "--out", str(tmp_path / "b1"), "--enhancer", "zerodce", "--weights",
                 str(_random_zerodce(tmp_path)), "--batch-size", "1", "-q"]) == 0
    a4 = cv2.imread(str(tmp_path / "b4" / "a.png")).astype(int)
    a1 = cv2.imread(str(tmp_path / "b1" / "a.png")).astype(int)
    assert np.abs(a4 - a1).max() <= 1


def _random_zerodce(tmp_path: Path) -> Path:
    import torch

    from lowlight_det.enhancers import ZeroDCE
    from lowlight_det.enhancers.weights import atomic_save, make_checkpoint

    path = tmp_path / "rand.pt"
    if not path.exists():
        torch.manual_seed(0)
        model = ZeroDCE()
        torch.nn.init.normal_(model.conv7.weight, -0.05, 0.01)  # negative α brightens
        atomic_save(make_checkpoint(model, arch="zerodce", arch_kwargs={}, meta={}), path)
    return path


def test_video_frame_by_frame(tmp_path: Path) -> None:
    src = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 10, (48, 32))
    for i in range(5):
        writer.write(np.full((32, 48, 3), 20 + 5 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert main([str(src), "--out", str(out), "--enhancer", "gamma", "--batch-size", "2", "-q"]) == 0
    cap = cv2.VideoCapture(str(out / "clip.avi"))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 5 and frames[0].shape == (32, 48, 3)
    assert frames[0].mean() > 60  # sqrt(20/255)*255 ≈ 71


def test_bad_weights_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "o"), "--weights", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_help() -> None:
    out = subprocess.run([sys.executable, "-m", "lowlight_det.enhance", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--enhancer" in out.stdout and "zerodce++" in out.stdout
