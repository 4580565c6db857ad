"""Zero-reference losses: hand-computed values, gradients, and parity with the authors' code."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.losses import (
    ZeroReferenceLoss,
    color_constancy_loss,
    exposure_control_loss,
    illumination_smoothness_loss,
    spatial_consistency_loss,
)


def test_hand_computed_values() -> None:
    grey = torch.full((2, 3, 16, 16), 0.3)
    assert color_constancy_loss(grey).item() == 0
    assert exposure_control_loss(torch.full((1, 3, 32, 32), 0.6)).item() == pytest.approx(0, abs=1e-12)
    assert exposure_control_loss(torch.full((1, 3, 32, 32), 0.1)).item() == pytest.approx(0.25)
    # pure red: (r-g)^2 = (r-b)^2 = 1, (g-b)^2 = 0 -> sqrt(1 + 1) per image
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1
    assert color_constancy_loss(red).item() == pytest.approx(2**0.5)
    assert illumination_smoothness_loss(torch.full((1, 24, 8, 8), 0.7)).item() == 0
    # a vertical ramp: every row step 1 -> 2 * (1 + 0) / B
    ramp = torch.arange(4.0).view(1, 1, 4, 1).expand(1, 1, 4, 3)
    assert illumination_smoothness_loss(ramp).item() == pytest.approx(2.0)
    img = torch.rand(1, 3, 16, 16)
    assert spatial_consistency_loss(img, img).item() == 0
    # a global brightness offset changes only the zero-padded border differences
    # 16 region sides face the padding, each contributes 0.1^2; mean over 16 regions
    assert spatial_consistency_loss(img + 0.1, img).item() == pytest.approx(0.01, rel=1e-4)


def test_spatial_border_uses_zero_padding() -> None:
    # one 4x4 region: its 4 "neighbours" are padding zeros, so L = 4 * (mean_e - mean_o)^2
    e, o = torch.full((1, 3, 4, 4), 0.5), torch.full((1, 3, 4, 4), 0.2)
    assert spatial_consistency_loss(e, o).item() == pytest.approx(4 * 0.3**2)


_REF = torch.rand(1, 3, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("fn", [
    lambda x: spatial_consistency_loss(x, _REF, region=1),
    lambda x: exposure_control_loss(x, patch=5),
    color_constancy_loss,
    illumination_smoothness_loss,
])
def test_gradcheck(fn) -> None:  # noqa: ANN001
    x = (torch.rand(1, 3, 5, 5, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(fn, (x,))


def test_weighted_module_reports_every_term() -> None:
    loss = ZeroReferenceLoss(spatial=1, exposure=10, color=5, smoothness=200)
    img = torch.rand(2, 3, 32, 32)
    enhanced = img.sqrt()
    curves = torch.rand(2, 24, 32, 32)
    terms = loss(enhanced, img, curves)
    assert terms.spatial == pytest.approx(spatial_consistency_loss(enhanced, img).item())
    assert terms.exposure == pytest.approx(10 * exposure_control_loss(enhanced).item())
    assert terms.color == pytest.approx(5 * color_constancy_loss(enhanced).item())
    assert terms.smoothness == pytest.approx(200 * illumination_smoothness_loss(curves).item())
    assert terms.total == pytest.approx(sum(t.item() for t in terms[1:]), rel=1e-6)


def test_losses_compute_in_float32_under_half_inputs() -> None:
    img = torch.rand(1, 3, 16, 16)
    assert exposure_control_loss(img.half()).dtype == torch.float32
    assert exposure_control_loss(img.half()).item() == pytest.approx(exposure_control_loss(img).item(), rel=1e-3)


@pytest.mark.needs_weights
def test_loss_terms_match_official_values(parity_dir: Path, official_zerodce: Path) -> None:
    cases = json.loads((parity_dir / "cases.json").read_text())["cases"]
    model = create_enhancer("zerodce", weights=official_zerodce).eval()
    loss = ZeroReferenceLoss()
    for case in cases:
        rgb = cv2.cvtColor(cv2.imread(str(parity_dir / f"{case['name']}_input.png")), cv2.COLOR_BGR2RGB)
        img = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            out = model.forward_curves(img)
            terms = loss(out.image, img, out.curves)
        ref = case["loss"]
        got = {"tv_raw": illumination_smoothness_loss(out.curves), "spa_mean": spatial_consistency_loss(out.image, img),
               "color_mean": color_constancy_loss(out.image), "exp_mean": exposure_control_loss(out.image)}
        for key, value in got.items():
            assert value.item() == pytest.approx(ref[key], rel=1e-4), (case["name"], key)
        assert terms.total.item() == pytest.approx(ref["total_official_weights"], rel=1e-4)
