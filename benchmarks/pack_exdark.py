"""Copy one split of an ExDark folder (native layout), shrinking images whose long side exceeds ``--max-side``.

For sending data to a remote GPU machine with an upload limit. A shrunk image is resized the way
Ultralytics' validator resizes it for ``imgsz = max-side`` (INTER_AREA, ``ceil`` sizes) and its boxes are
scaled with it, so detection at that ``imgsz`` sees nearly the same pixels (one extra JPEG encode);
mAP50 and mAP50-95 are scale-free, APs/m/l are not (their area ranges are in pixels). Other images
are copied byte for byte; ``imageclasslist.txt`` keeps only the copied rows.

    python benchmarks/pack_exdark.py ../shared/data/exdark-mini .gpu/exdark-test --split test --max-side 640
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import cv2

from lowlight_det.data.exdark import CLASSES, SPLITS, index_files


def pack(src: Path, dst: Path, split: str | None, max_side: int, quality: int) -> int:
    images, annos = index_files(src / "ExDark"), index_files(src / "ExDark_Annno")
    listing = (src / "Groundtruth" / "imageclasslist.txt").read_text(encoding="utf-8").splitlines()
    kept = [listing[0]]
    for line in listing[1:]:
        parts = line.split()
        if len(parts) < 5 or (split and int(parts[4]) != SPLITS[split]):
            continue
        key = f"{CLASSES[int(parts[1]) - 1]}/{parts[0]}".lower()
        if key not in images:
            continue
        img_path, anno_path = images[key], annos.get(f"{key}.txt")
        out_img = dst / "ExDark" / img_path.parent.name / img_path.name
        out_img.parent.mkdir(parents=True, exist_ok=True)
        img = cv2.imread(str(img_path), cv2.IMREAD_UNCHANGED)
        h0, w0 = img.shape[:2]
        r = max_side / max(h0, w0)
        sx = sy = 1.0
        if r < 1:
            w, h = min(math.ceil(w0 * r), max_side), min(math.ceil(h0 * r), max_side)
            sx, sy = w / w0, h / h0
            small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            params = [cv2.IMWRITE_JPEG_QUALITY, quality] if out_img.suffix.lower() in (".jpg", ".jpeg") else []
            cv2.imwrite(str(out_img), small, params)
        else:
            shutil.copyfile(img_path, out_img)
        if anno_path is not None:
            out_anno = dst / "ExDark_Annno" / anno_path.parent.name / anno_path.name
            out_anno.parent.mkdir(parents=True, exist_ok=True)
            lines = []
            for ln in anno_path.read_text(encoding="utf-8", errors="replace").splitlines():
                f = ln.split()
                if ln.lstrip().startswith("%") or len(f) < 5:
                    lines.append(ln)
                    continue
                box = [float(f[1]) * sx, float(f[2]) * sy, float(f[3]) * sx, float(f[4]) * sy]
                lines.append(" ".join([f[0], *(f"{v:.2f}" for v in box), *f[5:]]))
            out_anno.write_text("\n".join(lines) + "\n", encoding="utf-8")
        kept.append(line)
    (dst / "Groundtruth").mkdir(parents=True, exist_ok=True)
    (dst / "Groundtruth" / "imageclasslist.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return len(kept) - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--split", choices=list(SPLITS), default=None)
    p.add_argument("--max-side", type=int, default=640)
    p.add_argument("--quality", type=int, default=95)
    args = p.parse_args()
    n = pack(Path(args.src), Path(args.dst), args.split, args.max_side, args.quality)
    print(f"packed {n} images into {args.dst}")


if __name__ == "__main__":
    main()
