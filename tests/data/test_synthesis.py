"""Low-light synthesis: reproducible, darker, noisy, and the darken CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from lowlight_det.darken import main as darken_main
from lowlight_det.data.detection import load_yolo
from lowlight_det.data.synthesis import (
    DarkenParams,
    DarkenRanges,
    LowLightSynthesis,
    darken,
    darken_array,
    random_darkening,
)


def test_reproducible_per_image_and_darker() -> None:
    rgb = (np.random.default_rng(0).random((32, 40, 3)) * 200 + 30).astype(np.uint8)
    a = darken_array(rgb, seed=3, index=7)
    assert np.array_equal(a, darken_array(rgb, seed=3, index=7))
    assert not np.array_equal(a, darken_array(rgb, seed=3, index=8))
    assert a.shape == rgb.shape and a.dtype == np.uint8
    assert a.mean() < rgb.mean()


def test_identity_parameters_roundtrip_and_noise_scales_with_signal() -> None:
    img = torch.rand(1, 3, 16, 16) * 0.9 + 0.05
    one = torch.ones(1, dtype=torch.float64)
    params = DarkenParams(one, one * 2.2, one * 2.0, one * 1.7, one * 0, one * 0)
    out = darken(img, params, bits=16, noise=torch.zeros_like(img))
    torch.testing.assert_close(out, img, atol=2e-3, rtol=0)  # unprocess + reprocess is the identity
    dim = params._replace(darkness=one * 0.05)
    dark = darken(img, dim, bits=16, noise=torch.zeros_like(img))
    assert (dark < img).all()
    noisy = darken(img, dim._replace(shot_noise=one * 0.01, read_noise=one * 1e-4), bits=16,
                   generator=torch.Generator().manual_seed(0))
    assert (noisy - dark).abs().mean() > 0.01


def test_torch_transform_shapes_and_ranges() -> None:
    t = LowLightSynthesis(DarkenRanges(darkness=(0.05, 0.1)), seed=0)
    img = torch.rand(2, 3, 8, 8)
    out = t(img)
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1 and out.mean() < img.mean()
    assert t(img[0]).shape == (3, 8, 8)


def test_darken_cli_copies_labels_and_writes_data_yaml(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(root / "images" / split / f"{i}.jpg"), np.full((20, 30, 3), 180, np.uint8))
            (root / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: ['thing']\n")
    out = tmp_path / "dark"
    assert darken_main(["--data", str(root / "data.yaml"), "--out", str(out), "-q"]) == 0
    ds = load_yolo(out / "data.yaml", "val")
    assert len(ds.records) == 2 and ds.class_names == ["thing"]
    assert (out / "labels/train/0.txt").read_text() == "0 0.5 0.5 0.2 0.2\n"
    assert cv2.imread(str(out / "images/val/0.png")).mean() < 180


def test_albumentations_darken_is_seeded_and_keeps_boxes() -> None:
    import albumentations as A

    from lowlight_det.transforms.albumentations import Darken

    img = np.full((24, 32, 3), 170, np.uint8)
    make = lambda: A.Compose([Darken()], seed=7)  # noqa: E731
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Got processor for bboxes")
        a = make()(image=img)["image"]
        b = make()(image=img)["image"]
        boxed = A.Compose([Darken()], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=1)
        res = boxed(image=img, bboxes=[[1, 2, 10, 12]], labels=[0])
    assert np.array_equal(a, b) and a.mean() < img.mean() and a.dtype == np.uint8
    assert np.allclose(res["bboxes"], [[1, 2, 10, 12]])
    assert A.from_dict(A.to_dict(make())).transforms[0].darkness == (0.01, 0.4)


class _Frames(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.darken = LowLightSynthesis(seed=3)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.darken(torch.full((3, 8, 8), 0.5))


def test_synthesis_draws_a_different_stream_in_each_dataloader_worker() -> None:
    def run() -> list[torch.Tensor]:
        loader = torch.utils.data.DataLoader(_Frames(), batch_size=1, num_workers=2,
                                             generator=torch.Generator().manual_seed(0))
        return [b[0] for b in loader]

    first = run()
    # worker 0 serves items 0 and 2, worker 1 items 1 and 3: their first draws must differ
    assert not torch.equal(first[0], first[1])
    assert all(torch.equal(a, b) for a, b in zip(first, run(), strict=True))  # seeded loader: reproducible


def test_random_darkening_on_random_sensors_is_seeded_and_exact_in_exposure() -> None:
    img = torch.full((16, 3, 32, 32), 0.6)
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    fixed, ev = random_darkening(img, share=0.5, stops=(2, 4), generator=gen())
    rand, ev_r = random_darkening(img, share=0.5, stops=(2, 4), generator=gen(), ranges=DarkenRanges())
    again, _ = random_darkening(img, share=0.5, stops=(2, 4), generator=gen(), ranges=DarkenRanges())
    assert torch.equal(rand, again) and torch.equal(ev, ev_r)  # seeded; the same images and stops are drawn
    kept = ev == 0
    assert 0 < int(kept.sum()) < 16 and torch.equal(rand[kept], img[kept])
    dark = ~kept
    assert bool((rand[dark].mean((1, 2, 3)) < 0.6).all())
    # one fixed camera: the same stops give the same noise level; random cameras: noise levels spread widely
    noise_fixed = fixed[dark].std((2, 3)).mean(1)
    noise_rand = rand[dark].std((2, 3)).mean(1)
    assert noise_rand.max() / noise_rand.min() > 2 * (noise_fixed.max() / noise_fixed.min())
