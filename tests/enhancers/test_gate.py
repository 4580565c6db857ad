"""The illumination-adaptive strength gate: statistics, contract, loading and export."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import pytest
import torch
from torch import Tensor

from lowlight_det import create_enhancer
from lowlight_det.enhancers import ZeroDCE, ZeroDCEPP
from lowlight_det.enhancers.gate import (
    SpatialStrengthGate,
    StrengthGate,
    illumination_stats,
    make_gate,
    spatial_state_from_global,
    upsample_strength,
)
from lowlight_det.enhancers.reference import reference_forward
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, read_checkpoint
from lowlight_det.export import main as export_main
from lowlight_det.train.loop import arch_kwargs_of


def _randomise_gate(model: ZeroDCE | ZeroDCEPP) -> None:
    """A gate whose strength really depends on the image (the init gives one constant strength)."""
    assert model.gate is not None
    torch.nn.init.normal_(model.gate.fc2.weight, 0, 3.0)


def test_illumination_stats_by_hand() -> None:
    img = torch.full((2, 3, 4, 6), 0.5)
    img[1] = 0.0
    img[1, :, 0, :] = 1.0  # one bright row of four
    stats = illumination_stats(img)
    assert stats.shape == (2, 5) and stats.dtype == torch.float32
    expected0 = [0.5, 0.0, 1 + math.log(0.51) / -math.log(0.01), 0.0, 0.0]
    torch.testing.assert_close(stats[0], torch.tensor(expected0))
    mean1 = 0.25
    std1 = math.sqrt(0.25 * 0.75**2 + 0.75 * 0.25**2)
    log1 = 1 + (0.25 * math.log(1.01) + 0.75 * math.log(0.01)) / -math.log(0.01)
    torch.testing.assert_close(stats[1], torch.tensor([mean1, 2 * std1, log1, 0.75, 0.25]))


def test_gate_starts_at_its_init_strength_and_stays_in_range() -> None:
    gate = StrengthGate(init_strength=0.7)
    assert sum(p.numel() for p in gate.parameters()) == 57
    s = gate(torch.rand(3, 3, 9, 11))
    assert s.shape == (3, 1, 1, 1)
    torch.testing.assert_close(s, torch.full_like(s, 0.7))
    torch.nn.init.normal_(gate.fc2.weight, 0, 3.0)
    s = gate(torch.rand(3, 3, 9, 11) * torch.tensor([0.05, 0.4, 1.0]).view(3, 1, 1, 1))
    assert ((s > 0) & (s < 1)).all() and s.std() > 1e-3  # dark and bright images get different strengths
    with pytest.raises(ValueError, match="init_strength"):
        StrengthGate(init_strength=1.0)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_adaptive_enhancer_contract(cls: type[ZeroDCE] | type[ZeroDCEPP]) -> None:
    model = cls(adaptive=True)
    base = cls()
    base.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("gate.")})
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in base.parameters()) + 57
    _randomise_gate(model)
    model.eval()
    img = torch.rand(2, 3, 17, 23) * 0.4
    version = img._version
    with torch.no_grad():
        out = model(img)
        parts = torch.cat([model(img[:1]), model(img[1:])])
        curves = model.forward_curves(img)
        full = base.eval()(img)
    assert img._version == version and out.shape == img.shape and out.dtype == img.dtype
    assert 0 <= out.min() and out.max() <= 1
    torch.testing.assert_close(out, parts)
    torch.testing.assert_close(curves.image, out)
    torch.testing.assert_close(curves.ungated, full)  # the zero-reference losses see the ungated curves
    assert curves.strength is not None and curves.strength.shape == (2, 1, 1, 1)
    assert not torch.allclose(out, full)
    # strength -> 0 is the identity, whatever the curves
    assert model.gate is not None
    with torch.no_grad():
        model.gate.fc2.bias.fill_(-40.0)
        model.gate.fc2.weight.zero_()
        torch.testing.assert_close(model(img), img)


def test_every_parameter_of_an_adaptive_enhancer_gets_a_gradient() -> None:
    model = ZeroDCE(adaptive=True)
    _randomise_gate(model)
    out = model.forward_curves(torch.rand(2, 3, 16, 16))
    (out.image.mean() + out.ungated.mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_banded_cpu_inference_uses_one_strength_for_the_whole_image() -> None:
    model = ZeroDCE(adaptive=True)
    _randomise_gate(model)
    model.eval()
    img = torch.rand(1, 3, 300, 40)
    img[:, :, :150] *= 0.1  # bands differ in brightness; the strength must not
    model.band_rows = 64
    with torch.no_grad():
        assert model._banded(img)
        banded = model(img)
        model.band_rows = None
        one_pass = model(img)
    torch.testing.assert_close(banded, one_pass, rtol=0, atol=1e-5)


def test_gate_added_to_gateless_weights_keeps_the_curve_net(tmp_path: Path) -> None:
    shipped = create_enhancer("zerodce")
    adaptive = create_enhancer("zerodce", adaptive=True)
    assert adaptive.adaptive and not shipped.adaptive
    for k, v in shipped.state_dict().items():
        torch.testing.assert_close(adaptive.state_dict()[k], v, rtol=0, atol=0)
    # a gated checkpoint records the gate and comes back gated, with the gate's values
    _randomise_gate(adaptive)
    ckpt = atomic_save(make_checkpoint(adaptive, arch="zerodce", arch_kwargs=arch_kwargs_of(adaptive), meta={}),
                       tmp_path / "gated.pt")
    assert read_checkpoint(ckpt)["arch_kwargs"] == {"width": 32, "n_iter": 8, "adaptive": True}
    back = create_enhancer("zerodce", weights=ckpt)
    assert back.adaptive
    for k, v in adaptive.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v, rtol=0, atol=0)
    with pytest.raises(ValueError, match="adaptive=True"):
        create_enhancer("zerodce", weights=ckpt, adaptive=False)


def test_only_the_gate_may_be_missing(tmp_path: Path) -> None:
    state = ZeroDCE().state_dict()
    del state["conv3.bias"]
    path = atomic_save(_checkpoint_of(state), tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=r"(?s)broken\.pt.*conv3\.bias"):
        create_enhancer("zerodce", weights=path, adaptive=True)


def _checkpoint_of(state: dict[str, torch.Tensor]) -> dict[str, object]:
    return {"format": 1, "arch": "zerodce", "arch_kwargs": {}, "state_dict": state, "meta": {}}


@pytest.mark.parametrize("options", [{"adaptive": True}, {"adaptive": "spatial", "denoise": True},
                                     {"adaptive": True, "denoise": 2}])
def test_onnx_export_of_an_adaptive_enhancer(options: dict[str, Any], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    model = ZeroDCEPP(**options)
    _randomise_gate(model)
    if model.denoiser is not None:  # the denoising stage exports too (enhancers/denoise.py)
        torch.nn.init.normal_(cast(Tensor, model.denoiser.fc2.weight), 0, 3.0)
    weights = atomic_save(make_checkpoint(model, arch="zerodce++", arch_kwargs=arch_kwargs_of(model), meta={}),
                          tmp_path / "gated.pt")
    out = tmp_path / "gated.onnx"
    assert export_main(["--enhancer", "zerodce++", "--weights", str(weights), "--dynamic", "--out", str(out),
                        "-q"]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith("OK") and float(printed.split("max abs error ")[1].split()[0]) <= 1e-4


# --- the spatial strength map (adaptive="spatial") -------------------------------------------------------------

def _spatial(cls: type[ZeroDCE] | type[ZeroDCEPP]) -> ZeroDCE | ZeroDCEPP:
    """A spatial gate that lifts dark cells and leaves bright ones (local mean luminance → low strength)."""
    torch.manual_seed(0)
    model = cls(adaptive="spatial").eval()
    gate = model.gate
    assert isinstance(gate, SpatialStrengthGate)
    with torch.no_grad():
        gate.fc1.weight.zero_()
        gate.fc1.bias.zero_()
        gate.fc1.weight[0, 0] = -1.0  # hidden 0 = relu(0.5 - local mean)
        gate.fc1.bias[0] = 0.5
        gate.mix.weight.zero_()
        gate.mix.bias.zero_()
        gate.mix.weight[0, 0, 1, 1] = 1.0  # pass hidden 0 through the 3x3 (centre tap)
        gate.fc2.weight.zero_()
        gate.fc2.weight[0, 0] = 30.0
        gate.fc2.bias.fill_(-6.0)  # bright cells: sigmoid(-6) ≈ 0; dark cells: sigmoid(+9) ≈ 1
    return model


def test_spatial_gate_starts_at_its_init_strength_on_a_grid() -> None:
    gate = SpatialStrengthGate(init_strength=0.8)
    assert sum(p.numel() for p in gate.parameters()) == 681
    s = gate(torch.rand(2, 3, 100, 300))
    assert s.shape == (2, 1, 3, 8)  # 40-pixel cells, the last ones partial
    torch.testing.assert_close(s, torch.full_like(s, 0.8))
    assert upsample_strength(s, 100, 300).shape == (2, 1, 100, 300)
    assert make_gate(False) is None and isinstance(make_gate(True), StrengthGate)
    with pytest.raises(ValueError, match="spatial"):
        make_gate("local")


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_spatial_strength_lifts_dark_regions_and_keeps_lit_ones(cls: type[ZeroDCE] | type[ZeroDCEPP]) -> None:
    model = _spatial(cls)
    img = torch.full((1, 3, 120, 320), 0.05)
    img[:, :, :, 160:] = 0.8  # a lit region on the right (cells of 40 pixels: a boundary at a cell edge)
    with torch.no_grad():
        out = model(img)
        strength = upsample_strength(model.gate(img), 120, 320)
        ungated = model.forward_curves(img).ungated
    assert strength[..., :110].min() > 0.99 and strength[..., 210:].max() < 0.01
    torch.testing.assert_close(out[..., :110], ungated[..., :110], rtol=0, atol=1e-3)  # dark: full curves
    torch.testing.assert_close(out[..., 210:], img[..., 210:], rtol=0, atol=1e-3)  # lit: as it was


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
@pytest.mark.parametrize("shape", [(1, 3, 37, 133), (2, 3, 200, 172)])  # one pass, and row bands on the CPU
def test_spatial_gate_fast_paths_match_the_reference(cls: type[ZeroDCE] | type[ZeroDCEPP],
                                                     shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = cls(adaptive="spatial").eval()
    _randomise_gate(model)
    torch.nn.init.zeros_(model.gate.fc2.bias)  # mid-range strengths that differ by region
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * torch.linspace(0.05, 1, shape[3])
    with torch.inference_mode():
        out, ref = model(x), reference_forward(model, x)
        curves = model.forward_curves(x)
    assert (out - ref).abs().max() <= 1e-5
    assert (curves.image - ref).abs().max() <= 1e-5  # the training path gates the same way
    assert curves.strength is not None and curves.strength.std() > 0.01  # the map varies over the image


def test_spatial_gate_checkpoint_round_trip_and_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _spatial(ZeroDCEPP)
    ckpt = atomic_save(make_checkpoint(model, arch="zerodce++", arch_kwargs=arch_kwargs_of(model), meta={}),
                       tmp_path / "spatial.pt")
    assert read_checkpoint(ckpt)["arch_kwargs"]["adaptive"] == "spatial"
    back = create_enhancer("zerodce++", weights=ckpt)
    assert back.adaptive == "spatial"
    x = torch.rand(1, 3, 40, 64)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="adaptive"):  # a per-image gate cannot take a map's weights
        create_enhancer("zerodce++", weights=ckpt, adaptive=True)
    out = tmp_path / "spatial.onnx"
    assert export_main(["--enhancer", "zerodce++", "--weights", str(ckpt), "--dynamic", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith("OK") and float(printed.split("max abs error ")[1].split()[0]) <= 1e-4


def test_spatial_gate_from_per_image_gated_weights_starts_where_they_are(tmp_path: Path) -> None:
    """--adaptive --gate spatial on weights with a per-image gate (the shipped -det ones): the map starts as the
    same strength everywhere, so the enhancer's output is unchanged, and the local statistics can then learn."""
    torch.manual_seed(0)
    gated = create_enhancer("zerodce++", weights="default", adaptive=True)
    _randomise_gate(gated)
    ckpt = atomic_save(make_checkpoint(gated, arch="zerodce++", arch_kwargs=arch_kwargs_of(gated), meta={}),
                       tmp_path / "gated.pt")
    spatial = create_enhancer("zerodce++", weights=ckpt, adaptive="spatial").eval()
    gated.eval()
    assert spatial.adaptive == "spatial" and isinstance(spatial.gate, SpatialStrengthGate)
    x = torch.rand(2, 3, 90, 130) * torch.linspace(0.05, 1, 130)  # dark on the left, bright on the right
    with torch.no_grad():
        assert spatial.gate(x).std(dim=(2, 3)).max() < 1e-6  # one strength per image ...
        torch.testing.assert_close(spatial.gate(x).mean((2, 3)).flatten(), gated.gate(x).flatten(), atol=1e-6, rtol=0)
        torch.testing.assert_close(spatial(x), gated(x), atol=1e-5, rtol=0)  # ... the same image
    # the local statistics get gradients (they start at zero weight), the converted weights save as spatial
    spatial.train()
    spatial(x).mean().backward()
    assert spatial.gate.fc1.weight.grad[:, :5].abs().sum() > 0
    back = atomic_save(make_checkpoint(spatial, arch="zerodce++", arch_kwargs=arch_kwargs_of(spatial), meta={}),
                       tmp_path / "spatial.pt")
    assert read_checkpoint(back)["arch_kwargs"]["adaptive"] == "spatial"
    with pytest.raises(ValueError, match="per-image strength gate"):
        spatial_state_from_global({k: v for k, v in spatial.state_dict().items()})
