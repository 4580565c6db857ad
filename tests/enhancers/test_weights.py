"""Weights catalogue, loading errors and our own checkpoint format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lowlight_det import create_enhancer
from lowlight_det.enhancers import ZeroDCE, get_weights, list_weights
from lowlight_det.enhancers.weights import (
    atomic_save,
    convert_official,
    export_weights,
    make_checkpoint,
    read_checkpoint,
    sha256_file,
)


@pytest.mark.parametrize("name", list_weights())
def test_every_spec_has_schema_fields(name: str) -> None:
    spec = get_weights(name)
    assert name.startswith(spec.arch + ".")
    assert {"num_params", "source", "license"} <= set(spec.meta)
    assert len(spec.sha256) == 64
    model = create_enhancer(spec.arch, weights=None, **dict(spec.arch_kwargs))
    assert sum(p.numel() for p in model.parameters()) == spec.meta["num_params"]


def test_convert_official_is_idempotent_and_unwraps() -> None:
    state = {"module.e_conv1.depth_conv.weight": 1, "e_conv7.point_conv.bias": 2}
    once = convert_official({"state_dict": state})
    assert once == {"conv1.depthwise.weight": 1, "conv7.pointwise.bias": 2}
    assert convert_official(once) == once


def _official_style_file(tmp_path: Path, model: torch.nn.Module, name: str) -> Path:
    renamed = {}
    for k, v in model.state_dict().items():
        k = k.replace("depthwise", "depth_conv").replace("pointwise", "point_conv")
        renamed["e_" + k] = v
    path = tmp_path / name
    torch.save(renamed, path)
    return path


def test_official_style_file_loads_strictly(tmp_path: Path) -> None:
    src = ZeroDCE()
    path = _official_style_file(tmp_path, src, "Epoch99.pth")
    loaded = create_enhancer("zerodce", weights=path)
    for a, b in zip(src.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_wrong_architecture_names_file_and_expectation(tmp_path: Path) -> None:
    path = _official_style_file(tmp_path, create_enhancer("zerodce++", weights=None), "pp.pth")
    with pytest.raises(ValueError, match=r"pp\.pth.*look like 'zerodce\+\+'.*'zerodce' was requested"):
        create_enhancer("zerodce", weights=path)


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    good = _official_style_file(tmp_path, ZeroDCE(), "good.pth")
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"truncated\.pth: cannot read this checkpoint"):
        create_enhancer("zerodce", weights=bad)


def test_wrong_hash_raises_before_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / get_weights("zerodce.official").filename
    torch.save({"not": torch.zeros(1)}, fake)
    monkeypatch.setenv("LOWLIGHT_DET_WEIGHTS", str(tmp_path))
    with pytest.raises(ValueError, match=r"sha256 mismatch: expected a4395acb"):
        create_enhancer("zerodce", weights="zerodce.official")


def test_missing_official_file_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOWLIGHT_DET_WEIGHTS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"zerodce_official_Epoch99\.pth.*looked in: .*LOWLIGHT_DET_WEIGHTS"):
        create_enhancer("zerodce", weights="zerodce.official")


def test_missing_path_and_unknown_id(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither a file nor a known id"):
        create_enhancer("zerodce", weights=str(tmp_path / "nope.pt"))
    with pytest.raises(ValueError, match="are for 'zerodce', not 'zerodce\\+\\+'"):
        create_enhancer("zerodce++", weights="zerodce.official")


def test_own_checkpoint_roundtrip_and_kwarg_contradiction(tmp_path: Path) -> None:
    model = ZeroDCE(n_iter=4)
    ckpt = make_checkpoint(model, arch="zerodce", arch_kwargs={"n_iter": 4, "width": 32}, meta={"source": "test"})
    path = atomic_save(ckpt, tmp_path / "run" / "last.pt")
    assert not list(path.parent.glob(".*tmp"))
    loaded = create_enhancer("zerodce", weights=path, n_iter=4)
    assert loaded.n_iter == 4
    with pytest.raises(ValueError, match="require n_iter=4, got n_iter=8"):
        create_enhancer("zerodce", weights=path, n_iter=8)
    with pytest.raises(ValueError, match="holds a 'zerodce' checkpoint, but 'zerodce\\+\\+' was requested"):
        create_enhancer("zerodce++", weights=path)
    shipped = export_weights(path, tmp_path / "ship", tag="unit")
    assert shipped.name == f"zerodce-unit-{sha256_file(shipped)[:8]}.pt"
    assert set(read_checkpoint(shipped)) == {"format", "arch", "arch_kwargs", "state_dict", "meta"}


def test_baselines_refuse_weights() -> None:
    with pytest.raises(ValueError, match="has no weights"):
        create_enhancer("gamma", weights="x.pt")
