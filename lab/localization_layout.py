"""Does the layout of `digits-clutter` win the pointing game on its own? The image-agnostic
`centre` map, uniform noise and a constant map against the reported chance (the mean box-area
share), on the set as it is placed now (the centre of a digit's ink uniform over the canvas) and as
it was placed before (the 16 px digit square at x, y in U[0, 16], which draws the same random
numbers, so the canvases differ only in where the digit sits). 8 x 8 grid on 32 px, every canvas
of the set (seed 0), each mean with its 95% bootstrap interval (docs/xai.md, "Localization").

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


def scores(loc: layout.LocalizationSet) -> dict[str, str]:
    """Chance and each image-agnostic map's pointing game, as 'mean [low, high]'."""
    size, n = loc.images.shape[1:3], len(loc.boxes)
    maps = {"centre": centre_maps(n, GRID), "noise": np.random.default_rng(0).random((n, *GRID)),
            "constant": np.zeros((n, *GRID))}
    out = {"canvases": str(n), "chance": f"{localization.chance_level(loc.boxes, size):.3f}"}
    for name, m in maps.items():
        ci = bootstrap_interval(localization.pointing_hits(m, loc.boxes, size))
        out[name] = f"{ci.mean:.3f} [{ci.low:.3f}, {ci.high:.3f}]"
    return out


def main() -> int:
    now = scores(layout.make_localization_set())
    uniform = layout.place
    layout.place = clustered
    try:
        before = scores(layout.make_localization_set())
    finally:
        layout.place = uniform
    for name, row in (("placed now (uniform)", now), ("placed before (clustered)", before)):
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
