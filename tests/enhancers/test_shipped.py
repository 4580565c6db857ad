"""Our own shipped weights: load by default, hash-checked, brighten dark images, carry their recipe."""

from __future__ import annotations

import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.enhancers.weights import default_weights, get_weights, read_checkpoint


@pytest.mark.parametrize("arch", ["zerodce", "zerodce++"])
def test_default_weights_are_ours_and_brighten(arch: str) -> None:
    name = default_weights(arch)
    assert name == f"{arch}.sice"
    spec = get_weights(name)
    model = create_enhancer(arch).eval()
    assert model.weights_sha256 == spec.sha256
    meta = read_checkpoint(model.weights_source)["meta"]
    assert meta["dataset"]["name"] == "sice_part1" and meta["epoch"] >= 1
    assert "128x128" in spec.meta["recipe"] and spec.meta["license"].startswith("MIT")
    dark = torch.linspace(0.02, 0.2, 64 * 64 * 3).reshape(1, 3, 64, 64)
    with torch.inference_mode():
        out = model(dark)
    assert out.mean() > 1.5 * dark.mean() and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("arch", ["zerodce", "zerodce++"])
def test_detection_tuned_weights_are_shipped_with_their_provenance(arch: str) -> None:
    spec = get_weights(f"{arch}.det-yolo11n")
    tuned = create_enhancer(arch, weights=f"{arch}.det-yolo11n").eval()
    assert tuned.weights_sha256 == spec.sha256 and tuned.adaptive
    assert create_enhancer(arch, weights=f"{arch}.det-yolo11n").weights_sha256 == spec.sha256
    meta = read_checkpoint(tuned.weights_source)["meta"]
    assert meta["tuned_for"].startswith("detection") and meta["dataset"]["split"] == "train"
    assert meta["dataset"]["val"].startswith("20% of train") and meta["val"]["map50"] > 0
    assert meta["config"]["adaptive"] is True and meta["config"]["enhancer"] == arch
    assert "YOLO11n" in meta["shipped"]["tuned_for"] and "train split" in meta["shipped"]["tuned_on"]
    # tuned for the detector: the learned strength keeps it close to its input, far closer than the
    # eye-tuned weights it started from, yet it still brightens dark input a little
    dark = torch.linspace(0.02, 0.2, 64 * 64 * 3).reshape(1, 3, 64, 64)
    with torch.inference_mode():
        eye, det = create_enhancer(arch).eval()(dark), tuned(dark)
        strength = tuned.gate(dark).item()
    assert 0 < strength < 0.2
    assert dark.mean() < det.mean() and (det - dark).abs().mean() < 0.25 * (eye - dark).abs().mean()


@pytest.mark.parametrize("name", ["zerodce", "zerodce++", "zerodce-det", "zerodce++-det"])
def test_zeroing_negligible_weights_changes_no_output(name: str) -> None:
    """Weights below NEGLIGIBLE are zeroed on load for CPU speed; the images must not change at all."""
    fast = create_enhancer(name).eval()
    raw = create_enhancer(name).eval()
    raw.load_state_dict(read_checkpoint(fast.weights_source)["state_dict"])  # the file as saved, tiny weights kept
    zeroed = sum(int((a != b).sum()) for a, b in zip(fast.state_dict().values(), raw.state_dict().values(), strict=True))
    assert zeroed > 0  # every shipped file has such weights
    img = torch.rand(2, 3, 150, 97, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.equal(fast(img), raw(img))


def test_the_dark_end_variant_is_shipped_as_research_weights_never_a_default() -> None:
    spec = get_weights("zerodce++.det-yolo11n-dark")
    model = create_enhancer("zerodce++-det-dark").eval()
    assert model.weights_sha256 == spec.sha256 and model.adaptive and model.data_terms  # ExDark's terms travel
    assert default_weights("zerodce++") == "zerodce++.sice" and spec.meta["status"].startswith("preliminary")
    meta = read_checkpoint(model.weights_source)["meta"]
    assert meta["config"]["teacher"] == 1 and meta["config"]["darken_share"] == 0.5
    assert meta["config"]["init_weights"] == "zerodce++.det-yolo11n"


def test_the_dark_end_weights_are_what_zerodcepp_det_names_never_a_default() -> None:
    spec = get_weights("zerodce++.det-yolo11n-dnbt")
    model = create_enhancer("zerodce++-det").eval()
    assert model.weights_sha256 == spec.sha256 and model.adaptive is True and model.denoise and model.data_terms
    assert default_weights("zerodce++") == "zerodce++.sice"
    meta = read_checkpoint(model.weights_source)["meta"]
    assert meta["config"]["denoise"] and meta["config"]["darken_sensor"] == "random" and meta["config"]["seed"] == 0
    assert meta["config"]["w_blur"] == 0.3 and meta["config"]["teacher"] == 1 and meta["config"]["w_det"] == 1
    assert "seed-0" in meta["shipped"]["selection"] and "4.5 vs 4.1" in meta["shipped"]["selection"]
    assert meta["config"]["init_weights"] == "zerodce++.det-yolo11n" and spec.meta["metrics"]["exdark_test_379"]["seeds"] == 3
    # what it does: a dark, noisy frame comes out brighter and smoother than the gate-only weights make it
    g = torch.Generator().manual_seed(0)
    scene = torch.linspace(0.02, 0.12, 96).view(1, 1, 1, 96).expand(1, 3, 96, 96)
    noisy = (scene + 0.02 * torch.randn(1, 3, 96, 96, generator=g)).clamp(0, 1)
    gate_only = create_enhancer("zerodce++", weights="zerodce++.det-yolo11n").eval()
    with torch.inference_mode():
        out, before = model(noisy), gate_only(noisy)
    roughness = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean() / x.mean()  # noqa: E731
    assert out.mean() > noisy.mean() and roughness(out) < 0.5 * roughness(before)


def test_the_label_free_weights_carry_sices_terms_not_exdarks() -> None:
    spec = get_weights("zerodce++.det-yolo11n-free")
    model = create_enhancer("zerodce++-det-free").eval()
    assert model.weights_sha256 == spec.sha256 and model.adaptive is True and model.denoise
    assert "SICE" in model.data_terms and "ExDark" not in model.data_terms and "ExDark" not in spec.meta["data_terms"]
    assert default_weights("zerodce++") == "zerodce++.sice"
    meta = read_checkpoint(model.weights_source)["meta"]
    cfg = meta["config"]
    assert cfg["w_det"] == 0 and cfg["teacher"] == 1 and cfg["val_data"] is None and cfg["data"] == "sice_part1"
    assert "labelled by the detector itself" in meta["dataset"]["val"] and cfg["init_weights"] == "zerodce++.sice"
    assert "exdark" not in str(meta["dataset"]).lower() and spec.meta["metrics"]["exdark_test_379"]["seeds"] == 3
    # what it does: a dark, noisy frame comes out brighter and much smoother, brightened far less than the eye-tuned
    # weights it started from brighten it (measured: mean 0.07 -> 0.13 vs 0.28; roughness 0.32 -> 0.04)
    g = torch.Generator().manual_seed(0)
    scene = torch.linspace(0.02, 0.12, 96).view(1, 1, 1, 96).expand(1, 3, 96, 96)
    noisy = (scene + 0.02 * torch.randn(1, 3, 96, 96, generator=g)).clamp(0, 1)
    with torch.inference_mode():
        out, eye = model(noisy), create_enhancer("zerodce++").eval()(noisy)
    roughness = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean() / x.mean()  # noqa: E731
    assert noisy.mean() * 1.3 < out.mean() < eye.mean() and roughness(out) < 0.25 * roughness(noisy)


def test_the_blur_penalty_keeps_lit_images_sharp_and_still_smooths_dark_noise() -> None:
    # what --w-blur 0.3 changed: the earlier zerodce++.det-yolo11n-dn blurs a lit, quiet image almost as much as a
    # dark, noisy one; -dnb and the shipped zerodce++-det (-dnbt, the teacher added) blur the lit one far less and the
    # dark one still strongly
    g = torch.Generator().manual_seed(0)
    ramp = lambda lo, hi: torch.linspace(lo, hi, 96).view(1, 1, 1, 96).expand(1, 3, 96, 96)  # noqa: E731
    noisy = (ramp(0.02, 0.12) + 0.02 * torch.randn(1, 3, 96, 96, generator=g)).clamp(0, 1)
    lit = (ramp(0.3, 0.8) + 0.01 * torch.randn(1, 3, 96, 96, generator=g)).clamp(0, 1)
    blur = {}
    for name in ("zerodce++.det-yolo11n-dn", "zerodce++.det-yolo11n-dnb", "zerodce++.det-yolo11n-dnbt"):
        model = create_enhancer("zerodce++", weights=name).eval()
        with torch.inference_mode():
            blur[name] = [model.forward_curves(x).blur.mean().item() for x in (lit, noisy)]
    (dn_lit, dn_noisy), *penalised = blur.values()
    for lit_blur, noisy_blur in penalised:
        assert dn_lit > 0.5 and lit_blur < 0.3 * dn_lit  # measured 0.79 vs 0.10 (-dnb) and 0.12 (-dnbt)
        assert noisy_blur > 0.5 and noisy_blur > 4 * lit_blur  # measured 0.75 and 0.77
