"""Enhancer weights: specs with sha256, loading of official and own checkpoints, saving."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "LOWLIGHT_DET_WEIGHTS"
PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
CHECKPOINT_FORMAT = 1
WEIGHTS_KEYS = ("format", "arch", "arch_kwargs", "state_dict", "meta")
"""What a weights file (``best.pt``, ``epoch_NNN.pt``, a shipped file) keeps of a training checkpoint."""


@dataclass(frozen=True)
class WeightsSpec:
    """A named, hash-checked set of enhancer weights.

    Attributes:
        name: ``<arch>.<tag>``, e.g. ``"zerodce.official"``.
        arch: registry key whose state dict this is.
        filename: file name, looked up in the package's weights folder, then in ``$LOWLIGHT_DET_WEIGHTS``.
        sha256: full digest, checked before ``torch.load``.
        arch_kwargs: architecture options the weights require.
        meta: ``num_params``, ``source``, ``license``, recipe and metrics.
    """

    name: str
    arch: str
    filename: str
    sha256: str
    arch_kwargs: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


_SPECS: dict[str, WeightsSpec] = {}
_DEFAULTS: dict[str, str] = {}


def register_weights(spec: WeightsSpec, *, default: bool = False) -> WeightsSpec:
    """Add ``spec`` to the weights catalogue; ``default`` makes it what ``weights="default"`` loads."""
    if spec.name in _SPECS:
        raise ValueError(f"weights {spec.name!r} are already registered")
    _SPECS[spec.name] = spec
    if default:
        _DEFAULTS[spec.arch] = spec.name
    return spec


def get_weights(name: str) -> WeightsSpec:
    """The registered :class:`WeightsSpec` called ``name``."""
    if name not in _SPECS:
        raise ValueError(f"unknown weights {name!r}; choose from {', '.join(list_weights())} or give a path")
    return _SPECS[name]


def list_weights(arch: str | None = None) -> list[str]:
    """Registered weights ids, sorted, optionally only those of ``arch``."""
    return sorted(n for n, s in _SPECS.items() if arch is None or s.arch == arch)


def default_weights(arch: str) -> str | None:
    """Id of the weights ``weights="default"`` loads for ``arch`` (None if there are none)."""
    return _DEFAULTS.get(arch)


def sha256_file(path: str | Path) -> str:
    """Full sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_RENAMES = ((re.compile(r"^e_conv(\d)"), r"conv\1"), (re.compile(r"depth_conv"), "depthwise"),
            (re.compile(r"point_conv"), "pointwise"))


def convert_official(state: Mapping[str, Any]) -> dict[str, Tensor]:
    """Rename the authors' keys (``e_conv1``, ``depth_conv``, ``point_conv``) to ours; idempotent.

    Also unwraps ``{"state_dict": ...}`` and strips a DataParallel ``module.`` prefix.

    Example:
        >>> sorted(convert_official({"e_conv1.depth_conv.weight": 0, "conv2.bias": 1}))
        ['conv1.depthwise.weight', 'conv2.bias']
    """
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


NEGLIGIBLE = 1e-15
"""Weights smaller than this (float32) are zeroed on load: weight decay leaves such dead weights (the tuned
Zero-DCE++ has hundreds between 1e-30 and 1e-15), their products with small activations are subnormal numbers,
and those make CPU convolutions several times slower (Zero-DCE++'s DCE-Net 9 ms instead of 1.6 ms). Their
contributions are below 1e-15, under float32's resolution of the outputs: the shipped weights give bit-identical
images with and without them (tested)."""


def zero_subnormals(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Replace subnormal and negligible (|w| < :data:`NEGLIGIBLE`) floats by zero, for CPU speed.

    Example:
        >>> zero_subnormals({"w": torch.tensor([1e-40, 1e-20, 0.5])})["w"].tolist()
        [0.0, 0.0, 0.5]
    """
    out = {}
    for key, value in state.items():
        if value.is_floating_point():
            limit = max(NEGLIGIBLE, torch.finfo(value.dtype).tiny) if value.dtype == torch.float32 \
                else torch.finfo(value.dtype).tiny
            value = value.masked_fill(value.abs() < limit, 0.0)
        out[key] = value
    return out


def _resolve_file(spec: WeightsSpec) -> Path:
    candidates = [PACKAGE_WEIGHTS_DIR / spec.filename]
    if os.environ.get(WEIGHTS_DIR_ENV):
        candidates.insert(0, Path(os.environ[WEIGHTS_DIR_ENV]) / spec.filename)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    hint = spec.meta.get("download", "")
    raise FileNotFoundError(
        f"weights {spec.name!r} need the file {spec.filename!r}; looked in: {looked}. "
        f"Set ${WEIGHTS_DIR_ENV} to the folder holding it or pass the file's path. {hint}".strip()
    )


def read_checkpoint(path: str | Path, *, sha256: str | None = None) -> dict[str, Any]:
    """Check ``path``'s hash (if given) and load it safely on CPU (``weights_only=True``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: wrong hash, or the file is truncated / not a PyTorch checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise ValueError(f"{path}: sha256 mismatch: expected {sha256}, got {actual} "
                             "(wrong file, or a corrupted/truncated download)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for bad files
        raise ValueError(f"{path}: cannot read this checkpoint ({type(exc).__name__}: {exc}); "
                         "the file is truncated or not a PyTorch checkpoint") from exc
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state dict or a lowlight_det checkpoint, got {type(obj).__name__}")
    return dict(obj)


def _arch_of_keys(keys: list[str]) -> str:
    if any("depthwise" in k for k in keys):
        return "zerodce++"
    if any(re.match(r"conv\d\.weight$", k) for k in keys):
        return "zerodce"
    return "unknown"


@dataclass(frozen=True)
class LoadedWeights:
    """A state dict ready for ``load_state_dict`` and where it came from."""

    state_dict: dict[str, Tensor]
    arch_kwargs: dict[str, Any]
    source: str
    sha256: str | None
    meta: dict[str, Any]


def load_weights(arch: str, weights: str | Path) -> LoadedWeights:
    """Resolve ``weights`` (``"default"``, a weights id or a path) for registry key ``arch``.

    Raises:
        FileNotFoundError, ValueError: with the file name and what was expected.
    """
    spec: WeightsSpec | None = None
    if isinstance(weights, str) and weights == "default":
        name = default_weights(arch)
        if name is None:
            raise ValueError(f"enhancer {arch!r} has no default weights; pass weights=None or a path")
        weights = name
    if isinstance(weights, str) and weights in _SPECS:
        spec = _SPECS[weights]
        if spec.arch != arch:
            raise ValueError(f"weights {spec.name!r} are for {spec.arch!r}, not {arch!r}")
        path = _resolve_file(spec)
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"weights {str(weights)!r} are neither a file nor a known id; ids for {arch!r}: "
                f"{', '.join(list_weights(arch)) or 'none'}")
    obj = read_checkpoint(path, sha256=spec.sha256 if spec else None)
    meta: dict[str, Any] = dict(spec.meta) if spec else {}
    arch_kwargs: dict[str, Any] = dict(spec.arch_kwargs) if spec else {}
    if obj.get("format") == CHECKPOINT_FORMAT:
        if obj.get("arch") != arch:
            raise ValueError(f"{path}: holds a {obj.get('arch')!r} checkpoint, but {arch!r} was requested")
        arch_kwargs.update(obj.get("arch_kwargs") or {})
        meta.update(obj.get("meta") or {})
        state = convert_official(obj["state_dict"])
    else:
        state = convert_official(obj)
    found = _arch_of_keys(list(state))
    if found != arch:
        raise ValueError(f"{path}: these weights look like {found!r} (keys {', '.join(list(state)[:3])}, ...), "
                         f"but {arch!r} was requested")
    return LoadedWeights(zero_subnormals(state), arch_kwargs, str(path), spec.sha256 if spec else None, meta)


def merge_arch_kwargs(required: Mapping[str, Any], given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``given`` options on top of those the weights require; a contradiction raises."""
    for key, value in given.items():
        if key in required and required[key] != value:
            raise ValueError(f"{source} require {key}={required[key]!r}, got {key}={value!r}")
    return {**required, **given}


def load_into(model: nn.Module, loaded: LoadedWeights, *, may_lack: tuple[str, ...] = ()) -> nn.Module:
    """Strictly load ``loaded`` into ``model``; errors name the file.

    ``may_lack``: key prefixes of ``model`` the weights may leave out (those parameters keep their init);
    every key the weights do hold must still fit.
    """
    state = dict(loaded.state_dict)
    keep = {k: v for k, v in model.state_dict().items() if k.startswith(may_lack) and k not in state} if may_lack else {}
    try:
        model.load_state_dict({**keep, **state}, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{loaded.source}: weights do not fit {type(model).__name__}: {exc}") from exc
    return model


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename: never a half-written file."""
    from lowlight_det.io import atomic_write

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def make_checkpoint(model: nn.Module, *, arch: str, arch_kwargs: Mapping[str, Any],
                    meta: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """Our checkpoint dict (``weights_only``-loadable): format, arch, arch_kwargs, state_dict, meta."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"format": CHECKPOINT_FORMAT, "arch": arch, "arch_kwargs": dict(arch_kwargs),
            "state_dict": state, "meta": dict(meta), **extra}


def export_weights(checkpoint: str | Path, out_dir: str | Path, *, tag: str) -> Path:
    """Write the enhancer part of a checkpoint as ``<arch>-<tag>-<sha8>.pt`` (for shipping)."""
    obj = read_checkpoint(checkpoint)
    slim = {k: obj[k] for k in WEIGHTS_KEYS}
    tmp = atomic_save(slim, Path(out_dir) / f".{tag}.export.pt")
    final = tmp.with_name(f"{slim['arch']}-{tag}-{sha256_file(tmp)[:8]}.pt")
    os.replace(tmp, final)
    return final
