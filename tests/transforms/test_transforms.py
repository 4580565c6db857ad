"""Every adapter gives the same pixels: numpy one-liner, torchvision, albumentations, enhance CLI, Ultralytics."""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from lowlight_det import create_enhancer
from lowlight_det.enhancers import ZeroDCE
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint
from lowlight_det.transforms import EnhanceTransform, enhance_image
from lowlight_det.transforms.albumentations import Enhance

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = ZeroDCE()
    torch.nn.init.normal_(model.conv7.weight, -0.03, 0.01)
    return atomic_save(make_checkpoint(model, arch="zerodce", arch_kwargs={}, meta={}), tmp_path / "w.pt")


@pytest.fixture
def rgb() -> np.ndarray:
    return (np.random.default_rng(0).random((37, 53, 3)) * 90).astype(np.uint8)


def test_all_adapters_agree(weights: Path, rgb: np.ndarray, tmp_path: Path) -> None:
    module = create_enhancer("zerodce", weights=weights).eval()
    ref = enhance_image(rgb, "zerodce", weights=weights)
    assert ref.shape == rgb.shape and ref.dtype == np.uint8 and ref.mean() > rgb.mean()
    # OpenCV order
    assert np.array_equal(enhance_image(np.ascontiguousarray(rgb[..., ::-1]), module, bgr=True)[..., ::-1], ref)
    # torchvision v2 with boxes and labels passing through
    tv_img = tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1).contiguous())
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[1.0, 2.0, 10.0, 20.0]]), format="XYXY", canvas_size=(37, 53))
    before = tv_img.clone()
    out_img, target = v2.Compose([EnhanceTransform(module)])(tv_img, {"boxes": boxes, "labels": torch.tensor([3])})
    assert isinstance(out_img, tv_tensors.Image) and out_img.dtype == torch.uint8 and torch.equal(tv_img, before)
    assert torch.equal(target["boxes"], boxes) and target["labels"].tolist() == [3]
    assert np.abs(out_img.permute(1, 2, 0).numpy().astype(int) - ref).max() <= 1
    # float and batched tensors
    flt = EnhanceTransform(module)(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)
    assert flt.shape == (1, 3, 37, 53) and flt.dtype == torch.float32
    assert np.abs((flt[0].permute(1, 2, 0).numpy() * 255).round() - ref).max() <= 1
    # albumentations with bbox_params, and its dict round trip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Got processor for bboxes")
        comp = A.Compose([Enhance("zerodce", str(weights))],
                         bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]))
        res = comp(image=rgb, bboxes=[[1, 2, 10, 20]], labels=[3])
        again = A.from_dict(A.to_dict(comp))(image=rgb, bboxes=[[1, 2, 10, 20]], labels=[3])
    assert np.abs(res["image"].astype(int) - ref).max() <= 1
    assert np.array_equal(res["image"], again["image"]) and np.allclose(res["bboxes"], [[1, 2, 10, 20]])
    # the enhance CLI
    from lowlight_det.enhance import main as enhance_main

    cv2.imwrite(str(tmp_path / "x.png"), rgb[..., ::-1])
    assert enhance_main([str(tmp_path / "x.png"), "--out", str(tmp_path / "o"), "--weights", str(weights), "-q"]) == 0
    cli = cv2.imread(str(tmp_path / "o" / "x.png"))[..., ::-1]
    assert np.abs(cli.astype(int) - ref).max() <= 1


@pytest.mark.integration
def test_ultralytics_predict_with_enhancer_keeps_original_coordinates(weights: Path, rgb: np.ndarray) -> None:
    from ultralytics import YOLO

    from lowlight_det.detection.ultralytics import EnhancedDetectionPredictor

    model = YOLO(str(REPO / "benchmarks" / "demo_yolo.yaml"))
    seen = []

    class Spy(EnhancedDetectionPredictor):
        def preprocess(self, im):  # noqa: ANN001, ANN202
            out = super().preprocess(im)
            seen.append(out.float().mean().item())
            return out

    enhancer = create_enhancer("zerodce", weights=weights)
    results = model.predict(np.ascontiguousarray(rgb[..., ::-1]), imgsz=64, conf=0.0, verbose=False,
                            predictor=partial(Spy, enhancer=enhancer))
    assert seen and results[0].orig_shape == (37, 53)
    boxes = results[0].boxes.xyxy
    assert len(boxes) and boxes[:, 2].max() <= 53 + 1e-3 and boxes[:, 3].max() <= 37 + 1e-3


@pytest.mark.integration
def test_ultralytics_train_on_enhanced_images(weights: Path, tmp_path: Path, write_scenes) -> None:  # noqa: ANN001
    from ultralytics import YOLO

    from lowlight_det.detection.ultralytics import EnhancedDetectionTrainer

    data = write_scenes(tmp_path / "ds", splits=("train", "val"), n=4, seed=9, gain=0.25)
    batches = []

    class Spy(EnhancedDetectionTrainer):
        def preprocess_batch(self, batch):  # noqa: ANN001, ANN202
            out = super().preprocess_batch(batch)
            batches.append(out["img"].float().mean().item())
            return out

    enhancer = create_enhancer("zerodce", weights=weights)
    before = {k: v.clone() for k, v in enhancer.state_dict().items()}
    YOLO(str(REPO / "benchmarks" / "demo_yolo.yaml")).train(
        trainer=partial(Spy, enhancer=enhancer), data=str(data), epochs=1, imgsz=64, batch=4,
        device="cpu", workers=0, plots=False, amp=False, project=str(tmp_path / "runs"), name="t", verbose=False)
    assert batches
    assert all(torch.equal(before[k], v) for k, v in enhancer.state_dict().items())  # frozen


def test_the_readmes_pipeline_snippet_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The first code block of the README's "Using an enhancer in your pipeline" section runs as written."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Using an enhancer in your pipeline", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)  # type: ignore[union-attr]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["out"].shape == (1, 3, 480, 640) and not namespace["out"].requires_grad
    assert namespace["bright"].mean() > namespace["night"].mean()
    assert namespace["result"]["labels"] == [3] and len(namespace["result"]["bboxes"]) == 1
    assert namespace["labels"].tolist() == [3] and namespace["boxes"].tolist() == [[420, 120, 540, 300]]  # flipped
