"""The learned denoising stage (enhancers/denoise.py): contract, what it does to noise, loading (its ONNX export:
test_gate.py)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.data.synthesis import SensorModel, darken_stops
from lowlight_det.enhancers import ZeroDCE, ZeroDCEPP
from lowlight_det.enhancers.denoise import DenoiseStage, binomial_blur, make_denoiser, noise_stats
from lowlight_det.enhancers.reference import reference_forward
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, read_checkpoint
from lowlight_det.train.loop import arch_kwargs_of


def _scene() -> torch.Tensor:
    """A smooth scene with a few edges (no noise of its own): rows of soft bands and a bright square."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 160), torch.linspace(0, 1, 240), indexing="ij")
    img = 0.35 + 0.25 * torch.sin(6 * x)[None] * torch.tensor([1.0, 0.8, 0.6]).view(3, 1, 1) + 0.1 * y[None]
    img[:, 40:100, 60:140] = 0.85
    return img.clamp(0, 1)[None]


def _noisy_dark(scene: torch.Tensor, stops: float, noise: float) -> torch.Tensor:
    rgb = (scene[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    dark = darken_stops(rgb, stops, index=3, sensor=SensorModel.with_noise(noise))
    return torch.from_numpy(dark).permute(2, 0, 1)[None].float() / 255


def _stage(model: torch.nn.Module) -> DenoiseStage:
    stage = getattr(model, "denoiser", None)
    assert isinstance(stage, DenoiseStage)
    return stage


def _noise_responsive(stage: DenoiseStage) -> DenoiseStage:
    """A map that follows the relative noise statistic (the third): noisy cells blurred, clean ones kept."""
    with torch.no_grad():
        for p in stage.parameters():
            p.zero_()
        stage.fc1.weight[0, 2] = 1.0  # hidden 0 = relu(relative noise level)
        stage.mix.weight[0, 0, 1, 1] = 1.0
        stage.fc2.weight[0, 0] = 40.0
        torch.nn.init.constant_(cast(torch.Tensor, stage.fc2.bias), -20.0)  # level 0.5 is the switch
    return stage


def test_stage_is_a_mix_of_the_image_and_its_blur() -> None:
    stage = DenoiseStage(init_mix=0.3)
    assert sum(p.numel() for p in stage.parameters()) == 649
    x = torch.rand(2, 3, 45, 83)
    torch.testing.assert_close(stage(x), x - 0.3 * (x - binomial_blur(x)))
    assert stage.mix_map(x, x - binomial_blur(x)).shape == (2, 1, 2, 3)  # 40-pixel cells, partial ones kept
    torch.nn.init.normal_(stage.fc2.weight, 0, 5.0)
    out = stage(x)  # any map: a convex mix, so the output stays in the input's range
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="init_mix"):
        DenoiseStage(init_mix=1.0)


@pytest.mark.parametrize("shape", [(1, 3, 640, 640), (2, 3, 97, 131), (8, 3, 121, 64), (1, 3, 41, 50)])
def test_banded_inference_gives_the_training_forward(shape: tuple[int, int, int, int]) -> None:
    """CPU inference runs in bands of whole cells (blur with a halo, statistics per band): the same numbers as the
    differentiable forward on odd sizes, partial cells and batches, with a map that really varies."""
    torch.manual_seed(0)
    stage = DenoiseStage()
    torch.nn.init.normal_(stage.fc2.weight, 0, 3.0)
    x = torch.rand(shape) * torch.rand(shape[0], 1, shape[2], 1)  # brightness varies down the image
    with torch.no_grad():
        banded = stage(x)
    with torch.enable_grad():
        whole = stage(x)
    assert whole.requires_grad and not banded.requires_grad  # the two paths really ran
    torch.testing.assert_close(banded, whole.detach(), atol=1e-6, rtol=0)


def test_blur_halves_noise_and_keeps_flat_regions() -> None:
    torch.manual_seed(0)
    flat = torch.full((1, 3, 64, 64), 0.4)
    noisy = flat + 0.05 * torch.randn_like(flat)
    assert (binomial_blur(noisy) - flat).std() < 0.5 * (noisy - flat).std()
    torch.testing.assert_close(binomial_blur(flat), flat)


def test_noise_statistic_tells_a_noisy_dark_frame_from_a_clean_one() -> None:
    scene = _scene()
    clean, noisy = _noisy_dark(scene, 3, 1e-7), _noisy_dark(scene, 3, 1e-2)  # 3 EV darker: quantisation only, noisy
    rel = [noise_stats(x, x - binomial_blur(x), 40)[:, 2].mean().item() for x in (clean, noisy)]
    assert rel[1] > rel[0] + 0.2
    stage = _noise_responsive(DenoiseStage())
    with torch.no_grad():
        maps = [stage.mix_map(x, x - binomial_blur(x)).mean().item() for x in (clean, noisy)]
        assert maps[0] < 0.2 < 0.8 < maps[1]
        # what the noisy frame loses to noise comes closer to the noise-free dark frame
        assert (stage(noisy) - clean).abs().mean() < 0.7 * (noisy - clean).abs().mean()
        torch.testing.assert_close(stage(clean), clean, rtol=0, atol=0.02)


@pytest.mark.parametrize("cls", [ZeroDCE, ZeroDCEPP])
def test_enhancer_with_denoising_matches_its_reference_and_learns(cls: type[ZeroDCE] | type[ZeroDCEPP]) -> None:
    torch.manual_seed(0)
    model = cls(adaptive=True, denoise=True).eval()
    assert model.denoise and not cls().denoise
    torch.nn.init.normal_(_stage(model).fc2.weight, 0, 3.0)
    img = torch.rand(2, 3, 150, 70) * 0.3  # tall: the CPU row-band path for Zero-DCE
    with torch.no_grad():
        torch.testing.assert_close(model(img), reference_forward(model, img), rtol=0, atol=1e-5)
        plain = cls(adaptive=True).eval()
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("denoiser.")})
        denoised = _stage(model)(img)
        torch.testing.assert_close(model(img), plain(denoised), rtol=0, atol=1e-6)  # denoise, then the curves
    model.train()
    out = model.forward_curves(img)
    out.image.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in _stage(model).parameters())


def test_denoising_stage_is_saved_loaded_and_added_at_its_init(tmp_path: Path) -> None:
    added = create_enhancer("zerodce++", weights="zerodce++.det-yolo11n", denoise=True)
    shipped = create_enhancer("zerodce++", weights="zerodce++.det-yolo11n")
    for k, v in shipped.state_dict().items():  # the weights' own parameters, the stage at its init
        torch.testing.assert_close(added.state_dict()[k], v, rtol=0, atol=0)
    torch.nn.init.normal_(_stage(added).fc2.weight, 0, 3.0)
    ckpt = atomic_save(make_checkpoint(added, arch="zerodce++", arch_kwargs=arch_kwargs_of(added), meta={}),
                       tmp_path / "denoise.pt")
    assert read_checkpoint(ckpt)["arch_kwargs"] == {"width": 32, "n_iter": 8, "adaptive": True, "denoise": True}
    back = create_enhancer("zerodce++", weights=ckpt)
    assert back.denoise and back.adaptive
    for k, v in added.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v, rtol=0, atol=0)
    with pytest.raises(ValueError, match="denoise=True"):
        create_enhancer("zerodce++", weights=ckpt, denoise=False)


def test_training_forward_returns_the_denoising_map_it_used() -> None:
    """forward_curves gives the losses the low-resolution map (differentiable); None without a stage."""
    torch.manual_seed(0)
    model = ZeroDCEPP(denoise=True)
    torch.nn.init.normal_(_stage(model).fc2.weight, 0, 3.0)
    x = torch.rand(2, 3, 90, 130)
    out = model.forward_curves(x)
    assert out.blur is not None and out.blur.shape == (2, 1, 3, 4) and out.blur.requires_grad
    torch.testing.assert_close(out.blur, _stage(model).mix_map(x, x - binomial_blur(x)))
    assert ZeroDCEPP().forward_curves(x).blur is None


# --- the two-scale stage (denoise=2): a second map mixes towards a 9x9 blur too ----------------------------------

def _upsampled(low: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.interpolate(low, size=like.shape[-2:], mode="bilinear", align_corners=True)


def test_two_scale_stage_is_a_convex_mix_of_the_image_and_its_two_blurs() -> None:
    torch.manual_seed(0)
    stage = DenoiseStage(scales=2)
    assert sum(p.numel() for p in stage.parameters()) == 658
    for p in stage.parameters():  # maps that follow the statistics strongly
        torch.nn.init.normal_(p, 0, 1.0)
    x = torch.rand(2, 3, 90, 130) * torch.linspace(0.01, 1, 130)  # dark, noisy on the left; bright on the right
    b5 = binomial_blur(x)
    b9 = binomial_blur(b5)
    low = stage.mix_map(x, x - b5)
    assert low.shape == (2, 2, 3, 4) and low[:, 0].std() > 0.02 and low[:, 1].std() > 0.02  # two maps that vary
    m, w = _upsampled(low, x).split(1, dim=1)
    with torch.no_grad():
        out, blur = stage.with_map(x)
    torch.testing.assert_close(out, x * (1 - m) + m * (1 - w) * b5 + m * w * b9, rtol=0, atol=1e-6)
    torch.testing.assert_close(blur, low[:, :1] * (1 + low[:, 1:]))  # what the blur penalty sees
    assert out.min() >= x.min() and out.max() <= x.max()
    # the wider blur removes more of white noise than the 5x5 one, and a flat region stays flat
    flat = torch.full((1, 3, 64, 64), 0.4)
    noisy = flat + 0.05 * torch.randn_like(flat)
    assert (binomial_blur(binomial_blur(noisy)) - flat).std() < 0.8 * (binomial_blur(noisy) - flat).std()
    with pytest.raises(ValueError, match="scales"):
        DenoiseStage(scales=3)
    with pytest.raises(ValueError, match="denoise"):
        make_denoiser(3)


def test_two_scale_stage_without_its_second_map_is_the_one_scale_stage() -> None:
    """w → 0: the same output as the one-scale stage with the same first map (the two are one family)."""
    torch.manual_seed(0)
    one, two = DenoiseStage(), DenoiseStage(scales=2)
    torch.nn.init.normal_(one.fc2.weight, 0, 3.0)
    state = one.state_dict()
    state["fc2.weight"] = torch.cat([state["fc2.weight"], torch.zeros_like(state["fc2.weight"])])
    state["fc2.bias"] = torch.cat([state["fc2.bias"], torch.tensor([-40.0])])
    two.load_state_dict(state)
    x = torch.rand(1, 3, 200, 150)
    with torch.no_grad():
        torch.testing.assert_close(two(x), one(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 3, 640, 640), (2, 3, 97, 131), (8, 3, 121, 64), (1, 3, 41, 50), (1, 3, 3, 7)])
def test_two_scale_banded_inference_gives_the_training_forward(shape: tuple[int, int, int, int]) -> None:
    """The 9x9 blur of a band needs a halo of four rows: built as the 5x5 blur of the band's own 5x5 blur (with its
    halo of two), it gives the whole-image numbers at band edges, image edges and on tiny images."""
    torch.manual_seed(0)
    stage = DenoiseStage(scales=2)
    torch.nn.init.normal_(stage.fc2.weight, 0, 3.0)
    x = torch.rand(shape) * torch.rand(shape[0], 1, shape[2], 1)
    with torch.no_grad():
        banded = stage(x)
    with torch.enable_grad():
        whole = stage(x)
    assert whole.requires_grad and not banded.requires_grad
    torch.testing.assert_close(banded, whole.detach(), atol=1e-6, rtol=0)


def test_two_scale_stage_is_saved_loaded_and_kept_apart_from_the_one_scale_one(tmp_path: Path) -> None:
    model = create_enhancer("zerodce++", weights="zerodce++.det-yolo11n", denoise=2)
    assert model.denoise == 2 and _stage(model).scales == 2
    torch.nn.init.normal_(_stage(model).fc2.weight, 0, 3.0)
    ckpt = atomic_save(make_checkpoint(model, arch="zerodce++", arch_kwargs=arch_kwargs_of(model), meta={}),
                       tmp_path / "two.pt")
    assert read_checkpoint(ckpt)["arch_kwargs"]["denoise"] == 2
    back = create_enhancer("zerodce++", weights=ckpt).eval()
    img = torch.rand(1, 3, 130, 170) * 0.3
    with torch.no_grad():
        torch.testing.assert_close(back(img), model.eval()(img), rtol=0, atol=0)
        torch.testing.assert_close(back(img), reference_forward(back, img), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="denoise=2"):
        create_enhancer("zerodce++", weights=ckpt, denoise=True)
