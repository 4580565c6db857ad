"""Map detector class ids to dataset classes (data from datasets.yaml, not code)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


class ClassMap:
    """Detector class id -> dataset class index; detections of unmapped classes are dropped.

    Example:
        >>> cm = ClassMap({0: 1, 2: 0}, description="test")
        >>> cm.apply(np.array([0, 1, 2]))
        (array([1, 0]), array([ True, False,  True]))
    """

    def __init__(self, det_to_ds: Mapping[int, int], *, description: str) -> None:
        self.det_to_ds = dict(det_to_ds)
        self.description = description
        self._lut = np.full(max(self.det_to_ds, default=0) + 1, -1, np.int64)
        for k, v in self.det_to_ds.items():
            self._lut[k] = v

    def apply(self, det_classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dataset labels of kept detections, keep mask)."""
        ids = det_classes.astype(np.int64)
        mapped = np.where(ids < len(self._lut), self._lut[np.minimum(ids, len(self._lut) - 1)], -1)
        keep = mapped >= 0
        return mapped[keep], keep


def resolve_class_map(spec: str, class_names: list[str], detector_names: Mapping[int, str],
                      maps: Mapping[str, Mapping[str, Any]] | None = None) -> ClassMap:
    """Build the mapping named by ``spec``.

    ``spec``: ``"auto"`` (by name if the detector knows every dataset class, else a catalogued map
    whose ids fit the detector, else identity when the class counts match), ``"identity"``
    (index i -> i), ``"names"`` (by name, case-insensitive) or the name of a map in ``maps``
    (dataset class name -> detector id), e.g. ``"coco"``.

    Raises:
        ValueError: the mapping cannot be built; says which classes are missing.
    """
    maps = maps or {}
    det_by_name = {str(n).lower(): int(i) for i, n in detector_names.items()}
    if spec == "auto":
        if all(c.lower() in det_by_name for c in class_names):
            spec = "names"
        else:
            fitting = [k for k, m in maps.items() if all(int(v) in detector_names for v in m.values())]
            if fitting:
                spec = fitting[0]
            elif len(detector_names) == len(class_names):
                spec = "identity"
            else:
                raise ValueError(
                    f"cannot map {len(detector_names)} detector classes to the dataset's {len(class_names)} "
                    f"classes: no common names and no fitting map in {list(maps) or 'the catalogue'}; "
                    "pass --class-map")
    if spec == "identity":
        if len(detector_names) != len(class_names):
            raise ValueError(f"identity class map needs as many detector classes ({len(detector_names)}) as "
                             f"dataset classes ({len(class_names)})")
        return ClassMap({i: i for i in range(len(class_names))}, description="identity")
    if spec == "names":
        missing = [c for c in class_names if c.lower() not in det_by_name]
        if missing:
            raise ValueError(f"detector has no class named {', '.join(missing)}")
        return ClassMap({det_by_name[c.lower()]: i for i, c in enumerate(class_names)}, description="by name")
    if spec not in maps:
        raise ValueError(f"unknown class map {spec!r}; choose from auto, identity, names, {', '.join(maps)}")
    table = maps[spec]
    unknown = [k for k in table if k not in class_names]
    if unknown:
        raise ValueError(f"class map {spec!r} names classes not in the dataset: {', '.join(unknown)}")
    det_to_ds = {int(det): class_names.index(name) for name, det in table.items()}
    described = ", ".join(f"{n}->{detector_names.get(int(d), d)}" for n, d in table.items())
    return ClassMap(det_to_ds, description=f"{spec}: {described}")
