"""Adding an enhancer is one builder: it then runs through the evaluator, export and the transforms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lowlight_det.enhancers import create_enhancer, enhancer_info, list_enhancers
from lowlight_det.enhancers.registry import register_alias, register_enhancer, unregister_enhancer

REPO = Path(__file__).resolve().parents[2]


class ToyGain(nn.Module):
    """A learned global gain: out = img · exp(g), clamped; one parameter."""

    differentiable = True

    def __init__(self, gain: float = 1.5) -> None:
        super().__init__()
        self.log_gain = nn.Parameter(torch.tensor(float(np.log(gain))))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return (img * self.log_gain.exp()).clamp(0, 1)


@pytest.fixture
def toy() -> Iterator[str]:
    @register_enhancer("toy-gain", learned=True)
    def build(*, weights: str | None = "default", gain: float = 1.5) -> ToyGain:
        return ToyGain(gain)

    yield "toy-gain"
    unregister_enhancer("toy-gain")


def test_a_new_enhancer_is_one_builder(toy: str, tmp_path: Path, write_scenes) -> None:  # noqa: ANN001
    from lowlight_det.eval.__main__ import main as eval_main
    from lowlight_det.export import main as export_main
    from lowlight_det.transforms import EnhanceTransform, enhance_image

    assert toy in list_enhancers(learned=True) and toy not in list_enhancers(trainable=True)
    # transforms: numpy one-liner and torchvision
    img = np.full((8, 8, 3), 100, np.uint8)
    assert enhance_image(img, toy)[0, 0, 0] == 150
    out, boxes = EnhanceTransform(create_enhancer(toy))(torch.full((3, 4, 4), 100, dtype=torch.uint8), "boxes")
    assert out[0, 0, 0] == 150 and boxes == "boxes"
    # evaluator
    data = write_scenes(tmp_path / "ds", n=3)
    assert eval_main(["--data", str(data), "--weights", str(REPO / "benchmarks" / "demo_yolo.yaml"), "--imgsz", "64",
                      "--enhance", toy, "--out", str(tmp_path / "eval"), "--no-plots", "-q"]) == 0
    assert list(json.loads((tmp_path / "eval" / "metrics.json").read_text())["results"]) == ["none", toy]
    # export (learned enhancers): ONNX checked against PyTorch
    assert export_main(["--enhancer", toy, "--format", "onnx", "--dynamic", "--out", str(tmp_path / "toy.onnx"),
                        "-q"]) == 0
    assert (tmp_path / "toy.onnx").is_file()


def test_aliases_name_an_architecture_with_its_weights() -> None:
    info = enhancer_info("zerodce++-det")
    assert (info.arch, info.weights, info.learned, info.trainable) == ("zerodce++", "zerodce++.det-yolo11n-dnbt", True,
                                                                       False)
    tuned = create_enhancer("zerodce++-det")
    same = create_enhancer("zerodce++", weights="zerodce++.det-yolo11n-dnbt")
    assert tuned.weights_sha256 == same.weights_sha256 and tuned.adaptive
    sice = create_enhancer("zerodce++-det", weights="zerodce++.sice")  # other weights may still be given
    assert sice.weights_source.endswith(".pt") and not sice.adaptive
    with pytest.raises(ValueError, match="already registered"):
        register_alias("zerodce++-det", arch="zerodce++", weights="zerodce++.sice")


def test_a_new_weights_file_is_one_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lowlight_det.enhancers import WeightsSpec, ZeroDCEPP
    from lowlight_det.enhancers import weights as registry
    from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, sha256_file

    model = ZeroDCEPP()
    path = atomic_save(make_checkpoint(model, arch="zerodce++", arch_kwargs={"width": 32, "n_iter": 8}, meta={}),
                       tmp_path / "mine.pt")
    spec = WeightsSpec(name="zerodce++.mine", arch="zerodce++", filename="mine.pt", sha256=sha256_file(path),
                       meta={"num_params": 10561, "source": "a test", "license": "MIT",
                             "metrics": {"demo": {"map50": 1.0}}})
    monkeypatch.setitem(registry._SPECS, spec.name, spec)  # what register_weights(spec) does, undone after the test
    monkeypatch.setenv("LOWLIGHT_DET_WEIGHTS", str(tmp_path))
    loaded = create_enhancer("zerodce++", weights="zerodce++.mine")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True))


def test_shipped_weights_records_carry_numbers_and_terms() -> None:
    from lowlight_det.enhancers import get_weights

    for name in ("zerodce.det-yolo11n", "zerodce++.det-yolo11n"):
        meta = get_weights(name).meta
        metrics = meta["metrics"]["exdark_test_379"]
        assert isinstance(metrics["map50"], float) and isinstance(metrics["delta_map50_vs_none"], float)
        assert "non-commercial" in meta["data_terms"]
