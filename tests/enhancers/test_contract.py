"""The enhancer contract, for every registered enhancer."""

from __future__ import annotations

import pytest
import torch

from lowlight_det import create_enhancer, list_enhancers


def _build(name: str) -> torch.nn.Module:
    # random init for learned enhancers: the contract must not depend on shipped files
    kwargs = {"weights": None} if name.startswith("zerodce") else {}
    return create_enhancer(name, **kwargs).eval()


@pytest.mark.parametrize("name", list_enhancers())
@pytest.mark.parametrize("batch", [1, 2])
def test_shape_dtype_device_range_and_no_inplace(name: str, batch: int, device: torch.device) -> None:
    model = _build(name).to(device)
    img = torch.rand(batch, 3, 17, 23, device=device) * 0.4
    version = img._version
    before = img.clone()
    with torch.inference_mode():
        out = model(img)
    assert out.shape == img.shape and out.dtype == img.dtype and out.device == img.device
    assert 0 <= out.min() and out.max() <= 1
    assert img._version == version and torch.equal(img, before)


@pytest.mark.parametrize("name", list_enhancers())
def test_batched_equals_single_and_reproducible(name: str) -> None:
    model = _build(name)
    img = torch.rand(3, 3, 24, 20)
    with torch.inference_mode():
        batched = model(img)
        singles = torch.cat([model(img[i : i + 1]) for i in range(3)])
        again = model(img)
    torch.testing.assert_close(batched, singles, rtol=1e-5, atol=1e-5)
    assert torch.equal(batched, again)


@pytest.mark.parametrize("name", list_enhancers())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs(name: str, dtype: torch.dtype) -> None:
    model = _build(name)
    img = torch.rand(1, 3, 16, 16).to(dtype)
    with torch.inference_mode():
        ref = model(img.float())  # same (rounded) input, computed in float32
        out = model(img)
    assert out.dtype == dtype and out.shape == img.shape
    torch.testing.assert_close(out.float(), ref, atol=0.05, rtol=0)


@pytest.mark.parametrize("name", [n for n in list_enhancers() if n.startswith("zerodce")])
def test_trainable_every_parameter_gets_gradient_and_step_changes_it(name: str) -> None:
    model = _build(name).train()
    img = torch.rand(2, 3, 32, 32)
    model(img).mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", list_enhancers())
def test_non_rgb_input_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        _build(name)(torch.rand(1, 4, 8, 8))


def test_registry_rejects_unknown_and_duplicates() -> None:
    from lowlight_det.enhancers.registry import register_enhancer

    with pytest.raises(ValueError, match="unknown enhancer 'nope'; choose from .*zerodce"):
        create_enhancer("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_enhancer("zerodce")(lambda **_: torch.nn.Identity())
    assert list_enhancers() == sorted(list_enhancers())
    assert {"zerodce", "zerodce++", "gamma", "clahe", "none"} <= set(list_enhancers())


def test_parameter_counts() -> None:
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(create_enhancer("zerodce", weights=None)) == 79_416
    assert count(create_enhancer("zerodce++", weights=None)) == 10_561


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["zerodce", "zerodce++"])
def test_cuda_matches_cpu(name: str) -> None:
    model = _build(name)
    img = torch.rand(2, 3, 40, 36)
    with torch.inference_mode():
        ref = model(img)
        out = model.to("cuda")(img.to("cuda")).cpu()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
