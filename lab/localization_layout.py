"""Does the layout of `digits-clutter` win the pointing game on its own? The image-agnostic
`centre` map, uniform noise and a constant map against the reported chance (the mean box-area
share), on the set as it is placed now (the centre of a digit's ink uniform over the canvas) and as
it was placed before (the 16 px digit square at x, y in U[0, 16], which draws the same random
numbers, so the canvases differ only in where the digit sits). 8 x 8 grid on 32 px, every canvas
of the set (seed 0), each mean with its 95% bootstrap interval; written to
benchmarks/results/xai-localization-layout.json (docs/xai.md, "Localization").

    python -m lab.localization_layout
"""
from __future__ import annotations

import numpy as np

from finetune import localization as layout
from xai.methods.centre import centre_maps
from xai.metrics import localization
from xai.stats import bootstrap_interval

GRID = (8, 8)  # cifar-tiny's patch grid on the 32 px canvases


def clustered(rng: np.random.Generator, box: tuple[int, int, int, int], size: int) -> tuple[int, int]:
    """The earlier placement: the digit's square wholly inside the canvas, top-left in U[0, S - 16]."""
    x, y = (int(v) for v in rng.integers(0, size - layout.OBJECT + 1, 2))
    return x, y


NAME = "xai-localization-layout"


def scores(loc: layout.LocalizationSet) -> dict:
    """Chance and each image-agnostic map's pointing game with its interval, one results row."""
    size, n = loc.images.shape[1:3], len(loc.boxes)
    maps = {"centre": centre_maps(n, GRID), "noise": np.random.default_rng(0).random((n, *GRID)),
            "constant": np.zeros((n, *GRID))}
    row = {"canvases": n, "chance": localization.chance_level(loc.boxes, size)}
    for name, m in maps.items():
        ci = bootstrap_interval(localization.pointing_hits(m, loc.boxes, size))
        row.update({name: ci.mean, f"{name}_low": ci.low, f"{name}_high": ci.high})
    return row


def columns() -> list[dict]:
    from bench.scenarios import column

    maps = [column(f"{m}{s}", f"{m}{t}", digits=3) for m in ("centre", "noise", "constant")
            for s, t in (("", ""), ("_low", " 95% low"), ("_high", " 95% high"))]
    return [column("placement"), column("canvases"), column("chance", "chance (box-area share)", digits=3), *maps]


def main() -> int:
    from bench.scenarios import shaped, write_results

    rows = [{"placement": "now: ink centre uniform over the canvas", **scores(layout.make_localization_set())},
            {"placement": "before: digit at x, y in U[0, 16]", **scores(layout.make_localization_set(place=clustered))}]
    about = "pointing game on every canvas of digits-clutter, 8 x 8 grid on 32 px; mean with its 95% bootstrap interval"
    print(write_results(NAME, shaped({"about": about, "command": "python -m lab.localization_layout"}, rows, columns())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
