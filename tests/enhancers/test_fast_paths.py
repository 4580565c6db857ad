"""Every optimised forward path equals the straightforward reference (``enhancers.reference``)."""

from __future__ import annotations

import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.enhancers.reference import reference_forward
from lowlight_det.enhancers.zerodce import HALO, ZeroDCE

TOL = 1e-5  # float32, the bound


@pytest.mark.parametrize("name", ["zerodce", "zerodce++", "zerodce-det", "zerodce++-det"])
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 64, 48)])
def test_default_cpu_path_matches_reference(name: str, shape: tuple[int, ...]) -> None:
    model = create_enhancer(name).eval()
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out, ref = model(x), reference_forward(model, x)
    assert out.is_contiguous() and out.shape == x.shape
    assert (out - ref).abs().max() <= TOL


@pytest.mark.parametrize("height", [33, 2 * 16 + 1, 3 * 16, 3 * 16 + HALO, 101])
def test_row_bands_are_exact(height: int) -> None:
    """Banded CPU inference (halo = DCE-Net's reach) gives the one-pass result for any band split."""
    model = ZeroDCE().eval()
    model.band_rows = 16
    x = torch.rand(2, 3, height, 29, generator=torch.Generator().manual_seed(height))
    with torch.no_grad():
        assert model._banded(x)
        out = model(x)
    assert (out - reference_forward(model, x)).abs().max() <= TOL


def test_default_bands_follow_the_pixel_count() -> None:
    """Zero-DCE runs one pass up to band_pixels (the faster path, benchmarks/zerodce_layouts.py) and equal bands of
    at most band_pixels above it, exact either way."""
    model = ZeroDCE().eval()
    assert model.band_rows is None and model.band_pixels == 1 << 20
    with torch.no_grad():
        assert model._band_height(torch.empty(1, 3, 720, 1280)) is None  # 0.92 MP: one pass
        assert model._band_height(torch.empty(1, 3, 1080, 1920)) == 540  # 2.07 MP: two bands of 1 MP at most
        assert model._band_height(torch.empty(1, 3, 2160, 3840)) == 2160 // 8
        model.band_pixels = 16 * 29
        x = torch.rand(1, 3, 101, 29, generator=torch.Generator().manual_seed(3))
        rows = model._band_height(x)
        assert rows is not None and rows * 29 <= model.band_pixels and -(-101 // rows) == -(-101 * 29 // (16 * 29))
        assert (model(x) - reference_forward(model, x)).abs().max() <= TOL
        model.band_pixels = None
        assert not model._banded(torch.empty(1, 3, 2160, 3840))


def test_bands_need_the_full_halo() -> None:
    """The halo is not slack: one row less of context changes the output near band edges."""
    model = create_enhancer("zerodce").eval()
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = reference_forward(model, x)
        top = model._dce_net(x[:, :, : 16 + HALO - 1])[:, :, :16]
        assert (top - model._dce_net(x)[:, :, :16]).abs().max() > 1e-4
        assert (model._dce_net(x[:, :, : 16 + HALO])[:, :, :16] - model._dce_net(x)[:, :, :16]).abs().max() <= TOL
    assert ref.shape == x.shape


def test_bands_only_for_cpu_inference() -> None:
    """Training (gradients on) and forward_curves keep the one-pass graph."""
    model = ZeroDCE()
    model.band_rows = 8
    x = torch.rand(1, 3, 40, 20)
    assert not model._banded(x)  # grad enabled
    with torch.no_grad():
        assert model._banded(x)
        assert not model._banded(torch.rand(1, 3, 16, 20))  # too small to split
    out = model.forward_curves(x)
    out.image.mean().backward()
    assert model.conv1.weight.grad is not None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float16, 5e-3), (torch.bfloat16, 3e-2)])
def test_cuda_paths_match_reference(dtype: torch.dtype, tol: float) -> None:
    model = create_enhancer("zerodce").eval().cuda()
    x = torch.rand(2, 3, 96, 128, device="cuda")
    with torch.inference_mode():
        ref = reference_forward(model, x)
        fast = model.to(dtype).to(memory_format=torch.channels_last)
        out = fast(x.to(dtype).contiguous(memory_format=torch.channels_last)).float()
    assert (out - ref).abs().max() <= tol


@pytest.mark.parametrize("name", ["zerodce", "zerodce++", "zerodce++-det", "gamma", "clahe", "none"])
def test_a_batch_gives_each_images_own_result(name: str) -> None:
    """CPU inference runs a batch image by image (no batch-sized temporaries): the same numbers as one by one,
    and as the differentiable path."""
    torch.manual_seed(0)
    model = create_enhancer(name).eval()
    x = torch.rand(3, 3, 150, 90) * torch.tensor([0.2, 0.5, 1.0]).view(3, 1, 1, 1)
    with torch.inference_mode():
        batch = model(x)
        alone = torch.cat([model(x[i:i + 1]) for i in range(3)])
    assert batch.is_contiguous() and batch.dtype == x.dtype
    # the same to float rounding: convolutions on a batch may take another kernel and round differently (a denoising
    # stage's, 2.7e-7, on an AVX-512 CPU; Zero-DCE++'s, 6.6e-7, on a 2-core AMD EPYC), so within 1e-6
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-6)
    if name != "clahe":  # the graph-building path (training) gives the same values
        graph = model(x.clone().requires_grad_(True))
        torch.testing.assert_close(batch, graph.detach(), rtol=0, atol=2e-6)


@pytest.mark.parametrize("size, low", [((640, 640), (53, 53)), ((720, 1280), (60, 107)), ((37, 53), (3, 4)),
                                       ((5, 7), (1, 1)), ((9, 4), (9, 4)), ((6, 5), (11, 13))])
def test_gathered_downsampling_is_f_interpolate(size: tuple[int, int], low: tuple[int, int]) -> None:
    import torch.nn.functional as F

    from lowlight_det.enhancers.functional import downsample_bilinear

    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(size[0]))
    ref = F.interpolate(x, size=low, mode="bilinear", align_corners=False)
    for img in (x, x.contiguous(memory_format=torch.channels_last), x[:, :, :, :]):
        out = downsample_bilinear(img, *low)
        assert out.shape == ref.shape and (out - ref).abs().max() <= 3e-7


def test_zerodcepp_downsamples_without_f_interpolate_only_at_cpu_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import torch.nn.functional as F

    zerodce = sys.modules["lowlight_det.enhancers.zerodce"]  # the module (the package exports a factory of that name)
    calls: list[tuple[int, ...]] = []
    interpolate = F.interpolate

    def counting(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return interpolate(x, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zerodce.F, "interpolate", counting)  # torch.nn.functional's, for the test's duration
    model = create_enhancer("zerodce++").eval()
    x = torch.rand(1, 3, 96, 120, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        fast = model(x)
    assert (1, 3, 96, 120) not in calls  # the full-size image is not passed to F.interpolate (which copies it)
    x.requires_grad_(True)
    slow = model(x)  # the differentiable path, as before
    assert (1, 3, 96, 120) in calls and (fast - slow.detach()).abs().max() <= TOL
