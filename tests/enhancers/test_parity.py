"""Parity with the authors' Zero-DCE / Zero-DCE++: a reference forward written from the paper, and golden outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lowlight_det import create_enhancer
from lowlight_det.enhancers import ZeroDCE, ZeroDCEPP
from lowlight_det.enhancers.weights import convert_official, read_checkpoint, zero_subnormals

CASES = ["case0", "case1", "case2"]


def _dce_net(conv: Callable[[int, torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """DCE-Net as in the paper: conv5(x3, x4), conv6(x2, x5), conv7(x1, x6), tanh on the curve maps."""
    x1 = F.relu(conv(1, x))
    x2 = F.relu(conv(2, x1))
    x3 = F.relu(conv(3, x2))
    x4 = F.relu(conv(4, x3))
    x5 = F.relu(conv(5, torch.cat([x3, x4], 1)))
    x6 = F.relu(conv(6, torch.cat([x2, x5], 1)))
    return torch.tanh(conv(7, torch.cat([x1, x6], 1)))


def _reference_zerodce(state: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Forward over the *official* key names, concatenations in the paper's order."""
    def conv(i: int, t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, state[f"e_conv{i}.weight"], state[f"e_conv{i}.bias"], padding=1)

    r = _dce_net(conv, x)
    out, half = x, None
    for i, a in enumerate(r.split(3, 1)):
        out = out + a * (out.pow(2) - out)
        if i == 3:
            half = out
    return out, half, r


def _reference_zerodcepp(state: dict[str, torch.Tensor], x: torch.Tensor, scale: int) -> torch.Tensor:
    def conv(i: int, t: torch.Tensor) -> torch.Tensor:
        p = f"e_conv{i}."
        t = F.conv2d(t, state[p + "depth_conv.weight"], state[p + "depth_conv.bias"], padding=1, groups=t.shape[1])
        return F.conv2d(t, state[p + "point_conv.weight"], state[p + "point_conv.bias"])

    low = x if scale == 1 else F.interpolate(x, scale_factor=1 / scale, mode="bilinear")
    r = _dce_net(conv, low)
    if scale != 1:
        r = F.interpolate(r, scale_factor=scale, mode="bilinear", align_corners=True)
    for _ in range(8):
        x = x + r * (x.pow(2) - x)
    return x


def _official_names(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    renames = {"conv": "e_conv", "depthwise": "depth_conv", "pointwise": "point_conv"}
    out = {}
    for key, value in model.state_dict().items():
        parts = key.split(".")
        parts[0] = parts[0].replace("conv", renames["conv"])
        parts = [renames.get(p, p) if i else p for i, p in enumerate(parts)]
        out[".".join(parts)] = value
    return out


def test_zerodce_matches_reference_forward_at_random_init() -> None:
    model = ZeroDCE().eval()
    torch.nn.init.normal_(model.conv7.weight, 0, 0.1)  # make the curves non-trivial
    official = _official_names(model)
    assert convert_official(official).keys() == model.state_dict().keys()
    x = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        ref_out, ref_half, ref_r = _reference_zerodce(official, x)
        ours = model.forward_curves(x)
    torch.testing.assert_close(ours.image, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.halfway, ref_half, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.curves, ref_r, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model(x), ref_out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [1, 4, 12])
def test_zerodcepp_matches_reference_forward_on_multiples(scale: int) -> None:
    model = ZeroDCEPP(scale_factor=scale).eval()
    torch.nn.init.normal_(model.conv7.pointwise.weight, 0, 0.3)
    official = _official_names(model)
    assert convert_official(official).keys() == model.state_dict().keys()
    x = torch.rand(1, 3, 48, 72)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference_zerodcepp(official, x, scale), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [(17, 23), (50, 37), (5, 5), (721, 1279)])
def test_zerodcepp_any_size_gives_exact_size(size: tuple[int, int]) -> None:
    model = ZeroDCEPP(scale_factor=12).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, *size))
        curves = model.estimate_curves(torch.rand(1, 3, *size))
    assert out.shape[-2:] == size and curves.shape[-2:] == size


def _load_case(parity_dir: Path, case: str) -> torch.Tensor:
    rgb = cv2.cvtColor(cv2.imread(str(parity_dir / f"{case}_input.png")), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255


def _golden(parity_dir: Path, name: str) -> torch.Tensor:
    return torch.from_numpy(np.load(parity_dir / name))[None]


@pytest.mark.needs_weights
@pytest.mark.parametrize("case", CASES)
def test_zerodce_matches_official_golden(case: str, parity_dir: Path, official_zerodce: Path) -> None:
    model = create_enhancer("zerodce", weights=official_zerodce).eval()
    with torch.inference_mode():
        out = model.forward_curves(_load_case(parity_dir, case))
    torch.testing.assert_close(out.image, _golden(parity_dir, f"{case}_zerodce.npy"), rtol=0, atol=1e-5)
    torch.testing.assert_close(out.halfway, _golden(parity_dir, f"{case}_zerodce_iter4.npy"), rtol=0, atol=1e-5)
    curves = parity_dir / f"{case}_zerodce_curves.npy"
    if curves.exists():
        torch.testing.assert_close(out.curves, _golden(parity_dir, curves.name), rtol=0, atol=1e-5)


@pytest.mark.needs_weights
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("scale", [1, 12])
def test_zerodcepp_matches_official_golden(case: str, scale: int, parity_dir: Path,
                                          official_zerodcepp: Path) -> None:
    model = create_enhancer("zerodce++", weights=official_zerodcepp, scale_factor=scale).eval()
    with torch.inference_mode():
        out = model(_load_case(parity_dir, case))
    torch.testing.assert_close(out, _golden(parity_dir, f"{case}_zerodcepp_scale{scale}.npy"), rtol=0, atol=1e-5)


@pytest.mark.needs_weights
def test_official_weights_by_id_with_env(monkeypatch: pytest.MonkeyPatch, parity_dir: Path,
                                         official_zerodce: Path) -> None:
    monkeypatch.setenv("LOWLIGHT_DET_WEIGHTS", str(parity_dir))
    model = create_enhancer("zerodce", weights="zerodce.official")
    assert model.weights_sha256 == "a4395acb874f320375d9704997cef874eaaaaa26a1777ceb29a92b70f74c3612"


@pytest.mark.needs_weights
def test_subnormals_zeroed_at_load_and_outputs_uint8_identical(parity_dir: Path, official_zerodce: Path) -> None:
    raw = convert_official(read_checkpoint(official_zerodce))
    tiny = torch.finfo(torch.float32).tiny
    n_sub = sum(int(((v != 0) & (v.abs() < tiny)).sum()) for v in raw.values())
    assert n_sub > 10_000  # the official file really has them
    flushed = zero_subnormals(raw)
    assert sum(int(((v != 0) & (v.abs() < tiny)).sum()) for v in flushed.values()) == 0
    raw_model = ZeroDCE().eval()
    raw_model.load_state_dict(raw)
    ours = create_enhancer("zerodce", weights=official_zerodce).eval()
    x = torch.cat([_load_case(parity_dir, c)[..., :144, :144] for c in CASES])
    with torch.inference_mode():
        a = (raw_model(x).clamp(0, 1) * 255).round().to(torch.uint8)
        b = (ours(x).clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(a, b)


def test_cases_json_documents_the_goldens(parity_dir: Path) -> None:
    cases = json.loads((parity_dir / "cases.json").read_text())["cases"]
    assert [c["name"] for c in cases] == CASES
