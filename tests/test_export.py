"""ONNX / TorchScript exports match PyTorch on several sizes (onnxruntime)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lowlight_det.enhancers import ZeroDCE, ZeroDCEPP
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint
from lowlight_det.export import main as export_main


def _weights(tmp_path: Path, arch: str) -> Path:
    torch.manual_seed(0)
    model = ZeroDCE() if arch == "zerodce" else ZeroDCEPP()
    last = model.conv7 if arch == "zerodce" else model.conv7.pointwise
    torch.nn.init.normal_(last.weight, 0, 0.2)  # non-trivial curves
    return atomic_save(make_checkpoint(model, arch=arch, arch_kwargs={}, meta={}), tmp_path / f"{arch}.pt")


@pytest.mark.parametrize("arch", ["zerodce", "zerodce++"])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_verifies_against_pytorch(arch: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    out = tmp_path / f"model.{fmt}"
    with warnings.catch_warnings():  # the happy path shows no deprecation notice (pytest's config hides them)
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        code = export_main(["--enhancer", arch, "--weights", str(_weights(tmp_path, arch)), "--format", fmt,
                            "--dynamic", "--out", str(out), "-q"])
    printed = capsys.readouterr().out
    assert code == 0 and out.is_file()
    assert "4 size(s)" in printed and printed.rstrip().endswith("OK")
    error = float(printed.split("max abs error ")[1].split()[0])
    assert error <= 1e-4


def test_onnx_zerodcepp_any_size_exact_output(tmp_path: Path) -> None:
    import onnxruntime as ort

    out = tmp_path / "pp.onnx"
    assert export_main(["--enhancer", "zerodce++", "--weights", str(_weights(tmp_path, "zerodce++")), "--dynamic",
                        "--out", str(out), "-q"]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 721, 1279), (3, 3, 5, 7)]:
        y = session.run(None, {"images": torch.rand(*shape).numpy()})[0]
        assert y.shape == shape


def test_export_help() -> None:
    out = subprocess.run([sys.executable, "-m", "lowlight_det.export", "--help"], capture_output=True, text=True,
                         check=True)
    assert "--dynamic" in out.stdout and "onnx" in out.stdout


def test_export_of_the_shipped_detection_tuned_enhancer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "det.onnx"
    assert export_main(["--enhancer", "zerodce++-det", "--dynamic", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and printed.rstrip().endswith("OK")
