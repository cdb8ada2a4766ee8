"""`evaluate`: every method x every metric on one labelled batch, plus the random baseline, as
flat rows; `write_report` turns them into `xai_results.json`, `xai_report.md` and figures."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from _infra.errors import ToolkitError
from _infra.outputs import WRITTEN_BY
from .methods import METHODS, Method
from .methods.random_map import uniform_maps
from .metrics import METRICS, deletion_insertion as di, localization, perturbation, sanity


ARROWS = {"higher": "↑", "lower": "↓"}
XAI_COMMAND = "python -m xai eval"  # what xai_results.json says wrote its folder (_infra.outputs)
RESULTS = "xai_results.json"


class EvalInputError(ToolkitError):
    """Inputs `evaluate` cannot use; every problem is listed."""


@dataclass
class EvalResult:
    subject: str
    n_images: int
    accuracy: float
    rows: list[dict]  # one per method: name, summary, then one value per metric
    curves: dict[str, dict[str, list[float]]]  # method -> curve name -> mean curve
    maps: dict[str, np.ndarray] = field(repr=False)  # method -> (B, gh, gw), for the figures
    metrics: list[str] = field(default_factory=list)  # metric names with values, table order
    chance: dict[str, float] = field(default_factory=dict)  # metric -> score of an uninformative map
    cascade_stages: list[str] = field(default_factory=list)  # randomised from the top down to each
    cascade: dict[str, list[float]] = field(default_factory=dict)  # method -> mean rank corr per stage


def check_inputs(images: np.ndarray, labels: np.ndarray, boxes: np.ndarray | None) -> None:
    problems = []
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        problems.append(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if len(images) == 0:
        problems.append("no images to evaluate")
    if len(labels) != len(images):
        problems.append(f"{len(labels)} labels for {len(images)} images")
    if boxes is not None and boxes.shape != (len(images), 4):
        problems.append(f"boxes must be (N, 4), got {boxes.shape}")
    if problems:
        raise EvalInputError("; ".join(problems))


def explanations(subject, images: np.ndarray, methods: list[Method], probs: np.ndarray,
                 targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The subject's maps for `targets` (None: its predicted classes), with the random baseline
    added for graphs (seeded by `probs`, so another model gets fresh noise)."""
    maps = subject.explain(images, [m for m in methods if m.name in METHODS], targets)
    if any(m.baseline for m in methods) and "random" not in maps:
        maps["random"] = uniform_maps(probs, subject.grid)
    return maps


def randomised_maps(subject, images: np.ndarray, methods: list[Method],
                    predicted: np.ndarray) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Maps of the trained model's predicted classes (Adebayo et al. compare the same class) from
    randomised models: one per cascading stage, top down, for a checkpoint (the last stage is the
    full randomisation); the full randomisation only for a graph (each model is an export)."""
    if hasattr(subject, "cascade"):
        steps = subject.cascade()
    else:
        full = subject.randomised()
        steps = [] if full is None else [("all", full)]
    stages, maps = [], []
    for stage, randomised in steps:
        stages.append(stage)
        maps.append(explanations(randomised, images, methods, randomised.forward(images), predicted))
    return stages, maps


def cascade_curves(maps: dict[str, np.ndarray], stage_maps: list[dict[str, np.ndarray]]) -> dict[str, list[float]]:
    """Per method, the mean Spearman correlation with its map at each randomisation stage."""
    return {name: [float(sanity.rank_correlations(m, s[name]).mean()) for s in stage_maps]
            for name, m in maps.items() if stage_maps and all(name in s for s in stage_maps)}


def score_method(subject, images, labels, boxes, maps, randomised, predicted) -> tuple[dict, dict]:
    """One method's metric values and mean curves; `randomised`: its fully randomised maps or None."""
    size = images.shape[1:3]
    pos = perturbation.perturbation_curve(subject.forward, images, maps, labels, positive=True)
    neg = perturbation.perturbation_curve(subject.forward, images, maps, labels, positive=False)
    fill = di.mean_colour(subject.mean)
    dele = di.deletion_curve(subject.forward, images, maps, predicted, fill)
    ins = di.insertion_curve(subject.forward, images, maps, predicted, fill)
    values = {"perturbation-pos": perturbation.perturbation_auc(pos),
              "perturbation-neg": perturbation.perturbation_auc(neg),
              "deletion": di.curve_auc(dele), "insertion": di.curve_auc(ins)}
    if boxes is not None:
        values["pointing-game"] = float(localization.pointing_hits(maps, boxes, size).mean())
        values["energy-in-box"] = float(localization.energy_in_box(maps, boxes, size).mean())
    if randomised is not None:
        values["sanity-rank-corr"] = float(sanity.rank_correlations(maps, randomised).mean())
    curves = {"perturbation-pos": pos.mean(1).tolist(), "perturbation-neg": neg.mean(1).tolist(),
              "deletion": dele.mean(1).tolist(), "insertion": ins.mean(1).tolist()}
    return values, curves


def evaluate(subject, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray | None = None,
             methods: list[Method] | None = None, sanity_check: bool = True, progress: bool = True) -> EvalResult:
    """Score each method's maps of `images` (uint8 `(N, H, W, 3)` at the model's size) for the
    predicted classes; `labels` are the true classes, `boxes` optional object boxes `(N, 4)`."""
    from tqdm.auto import tqdm

    labels = np.asarray(labels)
    check_inputs(images, labels, boxes)
    methods = list(METHODS.values()) if methods is None else methods
    probs = subject.forward(images)
    predicted = probs.argmax(-1)
    maps = explanations(subject, images, methods, probs)
    stages, stage_maps = randomised_maps(subject, images, methods, predicted) if sanity_check else ([], [])
    full = stage_maps[-1] if stage_maps else {}
    rows, curves = [], {}
    for name in tqdm(list(maps), desc="scoring methods", disable=not progress):
        values, curves[name] = score_method(subject, images, labels, boxes, maps[name], full.get(name), predicted)
        method = METHODS.get(name)
        row = {"method": name, "summary": method.summary if method else "the graph's own output",
               "baseline": bool(method and method.baseline), **values}
        if "sanity-rank-corr" in values:
            row["sanity_pass"] = values["sanity-rank-corr"] < sanity.PASS_BELOW
        rows.append(row)
    names = [m for m in METRICS if any(m in r for r in rows)]
    chance = {} if boxes is None else {"pointing-game": localization.chance_level(boxes, images.shape[1:3])}
    return EvalResult(subject=subject.name, n_images=len(images), accuracy=float((predicted == labels).mean()),
                      rows=rows, curves=curves, maps=maps, metrics=names, chance=chance,
                      cascade_stages=stages, cascade=cascade_curves(maps, stage_maps))


def column_title(metric: str, chance: dict[str, float]) -> str:
    """`name arrow`, plus the chance level where the metric has one (the pointing game)."""
    title = f"{metric} {ARROWS[METRICS[metric].better]}"
    return f"{title} (chance {chance[metric]:.3f})" if metric in chance else title


def markdown_table(data: dict) -> str:
    """Markdown table from an `xai_results.json`-shaped dict (`rows`, `metrics`, `chance`): one
    row per method, one column per metric (arrow = better direction). The CLI, the report and
    the docs' tables (`scripts/docs_tables.py`) all print through here."""
    chance = data.get("chance", {})
    head = ["method", *[column_title(m, chance) for m in data["metrics"]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in data["rows"]:
        cells = [row["method"]]
        for m in data["metrics"]:
            v = row.get(m)
            cells.append("n/a" if v is None else f"{v:.2f}" if m.startswith("perturbation") else f"{v:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cascade_table(data: dict) -> str:
    """Markdown table of the cascading randomisation from an `xai_results.json`-shaped dict: one
    row per method, one column per stage (randomised from the top down to it), the mean Spearman
    correlation with the trained model's map."""
    head = ["method", *[f"to {s}" for s in data["cascade_stages"]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([name, *(f"{v:.3f}" for v in curve)]) + " |" for name, curve in data["cascade"].items()]
    return "\n".join(lines)


def format_table(result: EvalResult) -> str:
    return markdown_table(vars(result))


def format_cascade(result: EvalResult) -> str:
    return cascade_table(vars(result))


def report_lines(result: EvalResult, command: str) -> list[str]:
    """`xai_report.md`: the table, the cascading randomisation, what the metrics mean."""
    lines = [f"# Explanation quality: {result.subject}", "",
             f"{result.n_images} images, model accuracy {result.accuracy:.4f}. Explained class: the predicted one "
             "(in the randomised models too).", "", format_table(result), ""]
    if result.cascade:
        lines += ["Cascading randomisation (Adebayo et al.): weights drawn afresh from the top down to each "
                  f"stage; mean Spearman correlation with the trained model's map (passes below {sanity.PASS_BELOW} "
                  "at the last stage).", "", format_cascade(result), ""]
    lines += ["Metrics:", ""]
    lines += [f"- `{m}` ({METRICS[m].better} is better): {METRICS[m].summary}" for m in result.metrics]
    return lines + (["", f"Command: `{command}`"] if command else [])


def write_report(result: EvalResult, out: Path, images: np.ndarray, command: str = "") -> dict[str, Path]:
    """`xai_results.json`, `xai_report.md`, `xai_methods.png` (images x methods), `xai_curves.png`,
    and `xai_cascade.png` (rank correlation per randomisation stage) when the sanity check ran."""
    from .plots import plot_cascade, plot_method_grid, plot_metric_curves

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / RESULTS, "report": out / "xai_report.md",
             "grid": out / "xai_methods.png", "curves": out / "xai_curves.png"}
    data = {k: v for k, v in asdict(result).items() if k != "maps"}
    paths["json"].write_text(json.dumps({WRITTEN_BY: XAI_COMMAND, **data, "command": command}, indent=2))
    paths["report"].write_text("\n".join(report_lines(result, command)) + "\n")
    shown = np.linspace(0, len(images) - 1, min(6, len(images))).round().astype(int)
    plot_method_grid(images[shown], {k: v[shown] for k, v in result.maps.items()}, paths["grid"], result.subject)
    plot_metric_curves(result.curves, paths["curves"], result.subject)
    if result.cascade:
        paths["cascade"] = plot_cascade(result.cascade, result.cascade_stages, out / "xai_cascade.png", result.subject,
                                        sanity.PASS_BELOW)
    return paths
