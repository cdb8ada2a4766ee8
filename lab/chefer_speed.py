"""Images/s of `xai eval --protocol chefer` on ViT-B/16 at 224 px (the `vit-base` preset, random
weights: the speed does not depend on them) on the CPU, and the hours Chefer et al.'s 5,000-image
table would take at that rate. Writes benchmarks/results/xai-chefer-speed.json (docs/xai.md).

    python -m lab.chefer_speed [--limit 8] [--batch-size 8] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

NAME = "xai-chefer-speed"
TABLE_IMAGES = 5000  # Chefer et al.'s ImageNet validation subset
DIGITS = [str(d) for d in range(10)]


def measure(limit: int, batch: int, device: str) -> dict:
    """One `xai eval --protocol chefer` run on a random `vit-base` checkpoint: its header's `run`."""
    from finetune.models import write_preset
    from finetune.presets import PRESETS
    from xai.__main__ import main

    with tempfile.TemporaryDirectory(prefix="chefer-speed-") as tmp:
        write_preset(PRESETS["vit-base"], Path(tmp) / "vit-base", DIGITS)
        out = Path(tmp) / "report"
        code = main(["eval", str(Path(tmp) / "vit-base"), "--data", "digits", "--protocol", "chefer", "--limit",
                     str(limit), "--batch-size", str(batch), "--device", device, "--out", str(out)])
        if code != 0:
            raise SystemExit(code)
        return json.loads((out / "xai_results.json").read_text())["header"]["run"]


def columns() -> list[dict]:
    from bench.scenarios import column

    return [column("model", "model"), column("device", "device"), column("images", "images"),
            column("batch_size", "batch"), column("seconds", "seconds", "s", 1),
            column("images_per_second", "images/s", digits=3),
            column("table_hours", f"{TABLE_IMAGES:,} images", "h", 1)]


def main() -> int:
    from bench.scenarios import shaped, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    run = measure(args.limit, args.batch_size, args.device)
    row = {"model": "vit-base (ViT-B/16, 224 px, random weights)", "device": run["device"], "images": args.limit,
           "batch_size": run["batch_size"], "seconds": run["seconds"], "images_per_second": run["images_per_second"],
           "table_hours": TABLE_IMAGES / run["images_per_second"] / 3600}
    about = (f"python -m xai eval --protocol chefer (4 methods x positive and negative perturbation) on {args.limit} "
             "digits resized to 224 px; evaluation time (explaining and scoring, not loading); the last column "
             f"is {TABLE_IMAGES:,} images at that rate")
    command = f"python -m lab.chefer_speed --limit {args.limit} --batch-size {args.batch_size} --device {args.device}"
    print(write_results(NAME, shaped({"about": about, "command": command}, [row], columns())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
