"""``python -m lowlight_det.export``: ONNX / TorchScript enhancers, verified against PyTorch.

ONNX graphs take ``images`` (B, 3, H, W) float RGB in [0, 1] and return ``enhanced`` of the same
shape; with ``--dynamic`` batch, height and width are free. Zero-DCE++ keeps its low-resolution
curve estimation and exact-size output at any H x W. Every export is checked with onnxruntime
(or TorchScript) on several sizes and the check result is printed.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lowlight_det.cli import add_common_args, positive_float, run_job, setup_logging
from lowlight_det.enhancers import create_enhancer, list_enhancers

logger = logging.getLogger("lowlight_det.export")

OPSET = 17  # onnxruntime >= 1.11, TensorRT >= 8.5, OpenVINO >= 2022.1
CHECK_SIZES = ((1, 96, 128), (2, 50, 77), (1, 240, 320), (1, 17, 23))


@dataclass
class ExportCheck:
    """Result of the verification against PyTorch."""

    sizes: list[tuple[int, int, int]]
    max_abs_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance


def export_onnx(model: nn.Module, path: Path, *, dynamic: bool = True, half: bool = False,
                size: tuple[int, int] = (256, 256), opset: int = OPSET) -> Path:
    """Export ``model`` to ONNX (TorchScript-based exporter, fixed opset)."""
    model = model.eval().half() if half else model.eval().float()
    dummy = torch.rand(1, 3, *size, dtype=torch.float16 if half else torch.float32)
    axes = {"images": {0: "batch", 2: "height", 3: "width"}, "enhanced": {0: "batch", 2: "height", 3: "width"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about python ints are expected and handled
        try:
            torch.onnx.export(model, (dummy,), str(path), input_names=["images"], output_names=["enhanced"],
                              dynamic_axes=axes if dynamic else None, opset_version=opset, dynamo=False)
        except ImportError as exc:
            raise ValueError(f"ONNX export needs the onnx package ({exc}): pip install 'lowlight_det[export]'") from None
    return path


def export_torchscript(model: nn.Module, path: Path, *, half: bool = False, size: tuple[int, int] = (256, 256)) -> Path:
    """Trace ``model`` to TorchScript."""
    model = model.eval().half() if half else model.eval().float()
    dummy = torch.rand(1, 3, *size, dtype=torch.float16 if half else torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, dummy, check_trace=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(path))
    return path


def verify(model: nn.Module, path: Path, fmt: str, *, half: bool = False, dynamic: bool = True,
           sizes: Sequence[tuple[int, int, int]] = CHECK_SIZES) -> ExportCheck:
    """Max abs difference between the exported model and PyTorch (float32 reference) on ``sizes``."""
    ref_model = model.float().eval()
    if not dynamic:
        sizes = [(1, *s[1:]) for s in sizes[:1]]
    if fmt == "onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            raise ValueError(f"{path} was written, but checking it needs onnxruntime: "
                             "pip install 'lowlight_det[export]'") from None

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        run = lambda x: torch.from_numpy(session.run(None, {"images": x.numpy()})[0])  # noqa: E731
    else:
        with warnings.catch_warnings():  # the user asked for TorchScript; its loader's deprecation notice is ours
            warnings.simplefilter("ignore", FutureWarning)
            loaded = torch.jit.load(str(path))
        run = lambda x: loaded(x)  # noqa: E731
    err = 0.0
    g = torch.Generator().manual_seed(0)
    for b, h, w in sizes:
        x = torch.rand(b, 3, h, w, generator=g)
        with torch.inference_mode():
            expected = ref_model(x)
            got = run(x.half() if half else x).float()
        if got.shape != expected.shape:
            raise RuntimeError(f"exported model returned {tuple(got.shape)} for input {(b, 3, h, w)}")
        err = max(err, float((got - expected).abs().max()))
    return ExportCheck(list(sizes), err, 1e-2 if half else 1e-4)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments."""
    p = argparse.ArgumentParser(prog="python -m lowlight_det.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--enhancer", default="zerodce", choices=list_enhancers(learned=True))
    p.add_argument("--format", default="onnx", choices=["onnx", "torchscript"])
    p.add_argument("--weights", default=None, help="weights id or path (default: shipped weights)")
    p.add_argument("--scale-factor", type=positive_float, default=None, help="zerodce++ curve-estimation downscale (default 12)")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch/height/width (ONNX)")
    p.add_argument("--half", action="store_true", help="float16 weights and input")
    p.add_argument("--out", default=None, help="output file (default <enhancer>.<onnx|torchscript>)")
    add_common_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when exported and verified, 1 if verification failed, 2 on bad arguments."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    kwargs: dict = {} if args.weights is None else {"weights": args.weights}
    if args.scale_factor is not None and args.enhancer.startswith("zerodce++"):
        kwargs["scale_factor"] = args.scale_factor
    suffix = "onnx" if args.format == "onnx" else "torchscript"
    out = Path(args.out or f"{args.enhancer.replace('+', 'p')}.{suffix}")

    def job() -> ExportCheck:
        model = create_enhancer(args.enhancer, **kwargs).eval()
        reference = create_enhancer(args.enhancer, **kwargs).eval()
        reference.load_state_dict(model.state_dict())
        if args.format == "onnx":
            export_onnx(model, out, dynamic=args.dynamic, half=args.half)
        else:
            export_torchscript(model, out, half=args.half)
        return verify(reference, out, args.format, half=args.half, dynamic=args.dynamic or args.format == "torchscript")

    code, check = run_job(job, log=logger)
    if check is None:
        return code
    status = "OK" if check.ok else "FAILED"
    print(f"exported {args.enhancer} to {out} ({args.format}{', opset ' + str(OPSET) if args.format == 'onnx' else ''}"
          f"{', dynamic' if args.dynamic else ''}{', fp16' if args.half else ''})")
    print(f"check vs PyTorch on {len(check.sizes)} size(s) {check.sizes}: max abs error {check.max_abs_error:.2e} "
          f"(tolerance {check.tolerance:.0e}) {status}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
