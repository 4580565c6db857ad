"""The darkness sweep: every row on the images as they are and on copies darkened by fixed numbers of stops.

The copies come from :func:`lowlight_det.data.synthesis.darken_stops` (one fixed sensor, so only the exposure
changes), are deterministic per (seed, image id, stops) and are cached in the output folder; boxes, ids and
image sizes are unchanged, so every level is scored against the same ground truth.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lowlight_det.data.detection import ImageRecord
from lowlight_det.data.synthesis import SensorModel, darken_stops
from lowlight_det.io import read_rgb8, write_image

BASELINE = "none"


def row_name(enhancer: str, stops: float, *, plain_zero: bool = True) -> str:
    """The result row of ``enhancer`` at ``stops`` EV darker: ``zerodce@ev3``; level 0 is the plain name unless
    ``plain_zero`` is False (the demo sweeps its well-lit scenes, not the rows it shows anyway).

    Example:
        >>> row_name("zerodce", 3), row_name("none", 0), row_name("none", 0, plain_zero=False), row_name("x", 1.5)
        ('zerodce@ev3', 'none', 'none@ev0', 'x@ev1.5')
    """
    return enhancer if stops == 0 and plain_zero else f"{enhancer}@ev{stops:g}"


def baseline_of(name: str) -> str:
    """The ``none`` row a row is compared with: the one on the same images (same darkness).

    Example:
        >>> baseline_of("zerodce@ev3"), baseline_of("zerodce"), baseline_of("well-lit")
        ('none@ev3', 'none', 'none')
    """
    return BASELINE + name[name.index("@"):] if "@ev" in name else BASELINE


def parse_levels(text: str) -> tuple[float, ...]:
    """``"1,2,3"`` → (0, 1, 2, 3): sorted, unique, level 0 (the images as they are) always included.

    Example:
        >>> parse_levels("3, 1,1.5")
        (0.0, 1.0, 1.5, 3.0)
    """
    try:
        values = {float(v) for v in text.split(",") if v.strip()}
    except ValueError:
        raise ValueError(f"--darken-ev takes comma-separated stops (e.g. 0,1,2,3,4), got {text!r}") from None
    bad = [v for v in values if not math.isfinite(v) or v < 0 or v > 16]
    if bad:
        raise ValueError(f"--darken-ev stops must be in [0, 16], got {', '.join(f'{v:g}' for v in sorted(bad))}")
    return tuple(sorted(values | {0.0}))


def darkened_records(records: Sequence[ImageRecord], stops: float, cache: Path, *, seed: int = 0,
                     sensor: SensorModel | None = None, progress: bool = False) -> list[ImageRecord]:
    """The records with their images darkened by ``stops`` EV, written once under ``cache`` (PNG).

    A cached file's name carries a digest of its source file (path, size, modification time), the stops, the
    seed and the sensor, so a changed image or setting is darkened again, never reused.
    """
    sensor = sensor or SensorModel()
    setting = json.dumps([stops, seed, asdict(sensor)], sort_keys=True)
    out = []
    for rec in tqdm(records, desc=f"darken {stops:g} EV", unit="img", disable=not progress, leave=False):
        st = rec.path.stat()
        key = hashlib.sha256(f"{rec.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{setting}".encode()).hexdigest()
        dst = cache / f"{rec.image_id:06d}-{key[:12]}.png"
        if not dst.is_file():
            dark = darken_stops(read_rgb8(rec.path), stops, seed=seed, index=rec.image_id, sensor=sensor)
            write_image(dst, np.ascontiguousarray(dark[..., ::-1]))
        out.append(replace(rec, path=dst))
    return out


def darkness_summary(results: Sequence[Any], levels: Sequence[float], enhancers: Sequence[str], *,
                     plain_zero: bool = True, deltas: dict[str, dict[str, Any]] | None = None,
                     sensor: SensorModel | None = None) -> dict[str, Any]:
    """mAP50 / mAP50-95 per enhancer and darkness, Δ mAP50 vs ``none`` at the same darkness (with its interval
    when ``deltas`` has one), the share of the mAP50 that darkness costs ``none`` which each row recovers, and
    the darkness from which each enhancer beats ``none`` (Δ > 0, and the interval above 0 when there is one)."""
    by_name = {r.name: r for r in results}
    name = lambda e, lv: row_name(e, lv, plain_zero=plain_zero)  # noqa: E731
    none0 = by_name[name(BASELINE, 0.0)].metrics["map50"]
    table: dict[str, dict[str, Any]] = {}
    for enhancer in enhancers:
        rows: dict[str, Any] = {}
        for level in levels:
            r, base = by_name.get(name(enhancer, level)), by_name.get(name(BASELINE, level))
            if r is None or base is None:
                continue
            lost = none0 - base.metrics["map50"]
            gain = r.metrics["map50"] - base.metrics["map50"]
            entry = {"map50": r.metrics["map50"], "map50_95": r.metrics["map50_95"], "delta_map50": round(gain, 3),
                     "recovered_share": round(gain / lost, 3) if lost > 1.0 else None}
            ci = (deltas or {}).get(r.name, {}).get("map50_ci95")
            if ci:
                entry["delta_map50_ci95"] = ci
            rows[f"{level:g}"] = entry
        pays = [float(k) for k, v in rows.items() if enhancer != BASELINE and v["delta_map50"] > 0
                and (v.get("delta_map50_ci95") or [1.0])[0] > 0]
        table[enhancer] = {"levels": rows, "pays_from_ev": min(pays) if pays else None}
    return {"levels": [float(v) for v in levels], "map50_lost_to_darkness": {
        f"{lv:g}": round(none0 - by_name[name(BASELINE, lv)].metrics["map50"], 3) for lv in levels
        if name(BASELINE, lv) in by_name}, "rows": table, "sensor": asdict(sensor or SensorModel())}


def darkness_lines(summary: dict[str, Any]) -> list[str]:
    """Markdown: mAP50 (Δ vs none at that darkness) per enhancer and level, mAP50-95, recovered shares."""
    levels = [f"{v:g}" for v in summary["levels"]]
    head = "| enhancer | " + " | ".join(f"{v} EV" for v in levels) + " | beats none from |"
    rule = "|---|" + "---:|" * len(levels) + "---|"

    def cell(entry: dict[str, Any] | None, key: str, delta: bool) -> str:
        if entry is None:
            return "–"
        text = f"{entry[key]:.1f}"
        if delta and entry.get("delta_map50") is not None:
            text += f" ({entry['delta_map50']:+.1f}"
            ci = entry.get("delta_map50_ci95")
            text += f" [{ci[0]:+.1f}, {ci[1]:+.1f}])" if ci else ")"
        return text

    lines = ["### mAP50 by darkness (Δ vs none at the same darkness)", "", head, rule]
    for enhancer, row in summary["rows"].items():
        pays = row["pays_from_ev"]
        lines.append(f"| {enhancer} | " + " | ".join(cell(row["levels"].get(v), "map50", enhancer != BASELINE)
                                                   for v in levels)
                     + f" | {'–' if enhancer == BASELINE else (f'{pays:g} EV' if pays is not None else 'never')} |")
    lines += ["", "### mAP50-95 by darkness", "", head.replace(" beats none from |", ""), rule[:-4]]
    for enhancer, row in summary["rows"].items():
        lines.append(f"| {enhancer} | " + " | ".join(cell(row["levels"].get(v), "map50_95", False) for v in levels) + " |")
    lost = summary["map50_lost_to_darkness"]
    lines += ["", "Share of the mAP50 that darkness costs `none` (" + ", ".join(
        f"{v} EV: {lost[v]:.1f}" for v in levels if v in lost and v != "0") + " points) that each row recovers:", ""]
    for enhancer, row in summary["rows"].items():
        if enhancer == BASELINE:
            continue
        shares = [row["levels"].get(v, {}).get("recovered_share") for v in levels[1:]]
        lines.append(f"- {enhancer}: " + ", ".join(f"{v} EV {s:+.0%}" if s is not None else f"{v} EV –"
                                                   for v, s in zip(levels[1:], shares, strict=True)))
    s = summary["sensor"]
    lines += ["", f"Darkened copies: exposure ÷ 2^EV on a fixed sensor (inverse gamma {s['gamma']}, white balance "
              f"r {s['red_gain']} / b {s['blue_gain']}, shot noise {s['shot_noise']:g}, read noise "
              f"{s['read_noise']:.2g}, {s['bits']}-bit), `lowlight_det.data.synthesis.darken_stops`.", ""]
    return lines


def plot_by_darkness(out: Path, summary: dict[str, Any]) -> Path:
    """``map50_by_darkness.png``: mAP50 against stops, one line per enhancer."""
    from lowlight_det.eval.report import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(6, 4))
    for enhancer, row in summary["rows"].items():
        xs = [float(k) for k in row["levels"]]
        ax.plot(xs, [v["map50"] for v in row["levels"].values()], marker="o", label=enhancer,
                linewidth=2.5 if enhancer == BASELINE else 1.5, color="black" if enhancer == BASELINE else None)
    ax.set_xlabel("darker by (stops, EV)")
    ax.set_ylabel("mAP50 (%)")
    ax.set_title("Detection as the scene gets darker")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out / "map50_by_darkness.png", dpi=110)
