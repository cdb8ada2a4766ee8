"""`evaluate`: every method x every metric on one labelled batch, image by image, plus the random
and centre baselines; `write_report` turns the scores into `xai_results.json` (one row per metric
and method: the mean, its 95% bootstrap interval, the paired difference with every other method,
the per-image scores), `xai_cascade.json`, `xai_report.md` and figures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from _infra.columns import column
from _infra.errors import ToolkitError
from _infra.outputs import WRITTEN_BY
from . import stats
from .methods import METHODS, Method
from .methods.centre import centre_maps
from .methods.random_map import uniform_maps
from .metrics import METRICS, Metric, Scoring, deletion_insertion as di, localization, sanity


ARROWS = {"higher": "↑", "lower": "↓"}
XAI_COMMAND = "python -m xai eval"  # what xai_results.json says wrote its folder (_infra.outputs)
RESULTS = "xai_results.json"
CASCADE = "xai_cascade.json"
BASELINES = ("random", "centre")  # image-agnostic maps every method is compared with


class EvalInputError(ToolkitError):
    """Inputs `evaluate` cannot use; every problem is listed."""


@dataclass
class EvalResult:
    subject: str
    n_images: int
    accuracy: float
    scores: dict[str, dict[str, np.ndarray]]  # method -> metric -> each image's score (N,)
    described: dict[str, dict]  # method -> {"summary", "baseline"}, table order
    curves: dict[str, dict[str, list[float]]]  # method -> curve name -> mean curve
    maps: dict[str, np.ndarray] = field(repr=False)  # method -> (B, gh, gw), for the figures
    metrics: list[str] = field(default_factory=list)  # metric names with values, table order
    chance: dict[str, float] = field(default_factory=dict)  # metric -> score of an uninformative map
    cascade_stages: list[str] = field(default_factory=list)  # randomised from the top down to each
    cascade: dict[str, list[float]] = field(default_factory=dict)  # method -> mean |rank corr| per stage
    sanity_seeds: int = 0  # full randomisations the sanity scores average over


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
    """The subject's maps for `targets` (None: its predicted classes), with the image-agnostic
    baselines (random, seeded by `probs` so another model gets fresh noise; centre) added for
    graphs, which compute only their own map."""
    maps = subject.explain(images, [m for m in methods if m.name in METHODS], targets)
    if any(m.baseline for m in methods):
        maps.setdefault("random", uniform_maps(probs, subject.grid))
        maps.setdefault("centre", centre_maps(len(images), subject.grid))
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
    for stage, randomised in steps:  # one at a time: a cascade's next stage randomises further
        stages.append(stage)
        maps.append(randomised_explanations(randomised, images, methods, predicted))
    return stages, maps


def randomised_explanations(randomised, images: np.ndarray, methods: list[Method],
                            predicted: np.ndarray) -> dict[str, np.ndarray]:
    """A randomised model's maps of the trained model's predicted classes."""
    return explanations(randomised, images, methods, randomised.forward(images), predicted)


def further_randomisations(subject, images: np.ndarray, methods: list[Method], predicted: np.ndarray,
                           seeds: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
    """Maps from fully randomised checkpoints with each of `seeds` (a graph, re-exported per
    randomisation, gets none: its sanity check rests on one)."""
    if not hasattr(subject, "cascade"):
        return []
    return [randomised_explanations(subject.randomised(seed), images, methods, predicted) for seed in seeds]


def cascade_curves(maps: dict[str, np.ndarray], stage_maps: list[dict[str, np.ndarray]]) -> dict[str, list[float]]:
    """Per method, the mean absolute Spearman correlation with its map at each randomisation stage."""
    return {name: [float(np.abs(sanity.rank_correlations(m, s[name])).mean()) for s in stage_maps]
            for name, m in maps.items() if stage_maps and all(name in s for s in stage_maps)}


def score_method(metrics: list[Metric], scoring: Scoring) -> tuple[dict, dict]:
    """One method's per-image scores `{metric: (N,)}` and mean curves `{metric: list}` for each
    metric of `metrics` the batch has what it needs for (boxes, randomised maps)."""
    scores, curves = {}, {}
    for metric in metrics:
        if metric.applies(scoring):
            scores[metric.name], curve = metric.score(scoring)
            if curve is not None:
                curves[metric.name] = curve
    return scores, curves


def default_metrics() -> list[Metric]:
    """The metrics `evaluate` scores unless asked for others (the costly ones only by name)."""
    return [m for m in METRICS.values() if m.default]


def describe(name: str) -> dict:
    method = METHODS.get(name)
    return {"summary": method.summary if method else "the graph's own output", "baseline": bool(method and method.baseline)}


def evaluate(subject, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray | None = None,
             methods: list[Method] | None = None, sanity_check: bool = True, progress: bool = True,
             metrics: list[Metric] | None = None) -> EvalResult:
    """Score each method's maps of `images` (uint8 `(N, H, W, 3)` at the model's size) for the
    predicted classes, image by image, with each of `metrics` (default: `default_metrics()`);
    `labels` are the true classes, `boxes` optional object boxes `(N, 4)`."""
    from tqdm.auto import tqdm

    labels = np.asarray(labels)
    check_inputs(images, labels, boxes)
    methods = list(METHODS.values()) if methods is None else methods
    metrics = default_metrics() if metrics is None else metrics
    sanity_check = sanity_check and any(m.needs == "randomised" for m in metrics)
    probs = subject.forward(images)
    predicted = probs.argmax(-1)
    maps = explanations(subject, images, methods, probs)
    stages, stage_maps = randomised_maps(subject, images, methods, predicted) if sanity_check else ([], [])
    full = stage_maps[-1:] + (further_randomisations(subject, images, methods, predicted, sanity.SEEDS[1:])
                              if stage_maps else [])
    scores, curves, fill, shared = {}, {}, di.mean_colour(subject.mean), {}
    for name in tqdm(list(maps), desc="scoring methods", disable=not progress):
        scoring = Scoring(subject.forward, images, maps[name], labels, predicted, fill, boxes,
                          tuple(f[name] for f in full if name in f), shared)
        scores[name], curves[name] = score_method(metrics, scoring)
    names = [m for m in METRICS if any(m in s for s in scores.values())]
    chance = {} if boxes is None else {"pointing-game": localization.chance_level(boxes, images.shape[1:3])}
    return EvalResult(subject=subject.name, n_images=len(images), accuracy=float((predicted == labels).mean()),
                      scores=scores, described={name: describe(name) for name in maps}, curves=curves, maps=maps,
                      metrics=names, chance=chance, cascade_stages=stages, cascade=cascade_curves(maps, stage_maps),
                      sanity_seeds=len(full))


def weighted_mean(values: list[list[float]], weights: list[int]) -> list[float]:
    """The mean of equally long curves `values`, each weighted by its number of images."""
    return list(np.average(np.asarray(values, np.float64), axis=0, weights=weights))


def merge_results(parts: list[EvalResult]) -> EvalResult:
    """One `EvalResult` from the results of consecutive slices of the images (processes of a
    sharded run), in order: per-image scores and maps joined, means (accuracy, curves, cascade,
    the pointing game's chance level) weighted by each slice's size."""
    first, sizes = parts[0], [p.n_images for p in parts]
    join = lambda get: {k: get(k) for k in first.scores}  # noqa: E731
    scores = join(lambda m: {metric: np.concatenate([p.scores[m][metric] for p in parts]) for metric in first.scores[m]})
    curves = join(lambda m: {c: weighted_mean([p.curves[m][c] for p in parts], sizes) for c in first.curves[m]})
    cascade = {m: weighted_mean([p.cascade[m] for p in parts], sizes) for m in first.cascade}
    return replace(first, n_images=sum(sizes), scores=scores, curves=curves, cascade=cascade,
                   accuracy=float(np.average([p.accuracy for p in parts], weights=sizes)),
                   maps={m: np.concatenate([p.maps[m] for p in parts]) for m in first.maps},
                   chance={k: float(np.average([p.chance[k] for p in parts], weights=sizes)) for k in first.chance})


# ---- summaries: means, intervals, paired differences, as result rows ----------------------------

def differences(scores: dict[str, np.ndarray], better: str, indices: np.ndarray) -> dict[str, dict[str, dict]]:
    """For each method, its paired difference with every other `{other: {mean, ci_low, ci_high, verdict}}`."""
    out = {}
    for a, sa in scores.items():
        out[a] = {}
        for b, sb in scores.items():
            if a != b:
                d = stats.paired_difference(sa, sb, indices)
                out[a][b] = {"mean": d.mean, "ci_low": d.low, "ci_high": d.high, "verdict": stats.verdict(d, better)}
    return out


def metric_rows(result: EvalResult, metric: str, indices: np.ndarray) -> list[dict]:
    """One row per method for `metric`: mean, 95% interval, how many methods it is separated from
    either way, its standing against the random and centre baselines, and the per-image scores."""
    better = METRICS[metric].better
    scores = {m: s[metric] for m, s in result.scores.items() if metric in s}
    diffs = differences(scores, better, indices)
    rows = []
    for name, values in scores.items():
        ci = stats.bootstrap_interval(values, indices)
        verdicts = [d["verdict"] for d in diffs[name].values()]
        row = {"method": name, "metric": metric, "better": better, "mean": ci.mean, "ci_low": ci.low,
               "ci_high": ci.high, "ahead_of": verdicts.count("better"), "behind": verdicts.count("worse"),
               **{f"vs_{b}": diffs[name][b]["verdict"] for b in BASELINES if b in diffs[name]}}
        if metric in result.chance:
            row["chance"] = result.chance[metric]
        rows.append({**row, **result.described[name], "differences": diffs[name],
                     "scores": [float(f"{v:.6g}") for v in values]})
    return rows


def mark_sanity(rows: list[dict]) -> None:
    """`passes` on the sanity rows: the 95% upper ends of both similarities below `PASS_BELOW`."""
    highs = {}
    for r in rows:
        if METRICS[r["metric"]].needs == "randomised":
            highs.setdefault(r["method"], []).append(r["ci_high"])
    for r in rows:
        if r["method"] in highs and METRICS[r["metric"]].needs == "randomised":
            r["passes"] = "yes" if max(highs[r["method"]]) < sanity.PASS_BELOW else "no"


def result_rows(result: EvalResult, n_resamples: int = stats.N_RESAMPLES, seed: int = stats.SEED) -> list[dict]:
    """Every (metric, method) row, metric by metric, methods in table order."""
    indices = stats.resample_indices(result.n_images, n_resamples, seed)
    rows = [row for metric in result.metrics for row in metric_rows(result, metric, indices)]
    mark_sanity(rows)
    return rows


def result_columns(rows: list[dict]) -> list[dict]:
    """The shown columns, those some row has a value for."""
    columns = [column("metric", "metric"), column("method", "method"), column("mean", "mean"),
               column("ci_low", "95% low"), column("ci_high", "95% high"),
               column("ahead_of", "ahead of"), column("behind", "behind"),
               *(column(f"vs_{b}", f"vs {b}") for b in BASELINES),
               column("chance", "chance"), column("passes", "sanity pass")]
    return [c for c in columns if any(c["key"] in r for r in rows)]


def results_json(result: EvalResult, command: str, machine: dict | None = None, run: dict | None = None) -> dict:
    """`xai_results.json`: the header (what was run, on what, the columns) and one row per metric x method."""
    rows = result_rows(result)
    about = (f"{result.n_images} images, model accuracy on them {result.accuracy:.4f}; mean over images with its "
             f"{stats.LEVEL:.0%} percentile-bootstrap interval ({stats.N_RESAMPLES} resamples); ahead of / behind: "
             "the methods whose paired interval of the difference excludes 0, either way")
    header = {"scenario": "xai-eval", "command": command, "about": about, "machine": machine or {}, "subject": result.subject,
              "n_images": result.n_images, "accuracy": result.accuracy, "metrics": result.metrics,
              "methods": result.described, "chance": result.chance, "curves": result.curves,
              "interval": {"level": stats.LEVEL, "resamples": stats.N_RESAMPLES, "seed": stats.SEED,
                           "kind": "percentile bootstrap over images; paired for differences"},
              "sanity": {"randomisations": result.sanity_seeds, "pass_below": sanity.PASS_BELOW},
              **({"run": run} if run else {}), "columns": result_columns(rows)}
    return {WRITTEN_BY: XAI_COMMAND, "header": header, "rows": rows}


def stage_key(stage: str) -> str:
    """'block 1' -> 'to_block_1', a column key."""
    return "to_" + stage.replace(" ", "_")


def cascade_json(result: EvalResult, command: str, machine: dict | None = None) -> dict:
    """`xai_cascade.json`: per method, the mean absolute rank correlation at each randomisation stage."""
    keys = [stage_key(s) for s in result.cascade_stages]
    rows = [{"method": name, **dict(zip(keys, curve))} for name, curve in result.cascade.items()]
    header = {"scenario": "xai-eval-cascade", "command": command, "machine": machine or {},
              "about": f"{result.n_images} images; mean absolute Spearman correlation with the trained model's map, "
                       "weights drawn afresh from the top down to each stage",
              "subject": result.subject, "n_images": result.n_images, "stages": result.cascade_stages,
              "columns": [column("method", "method"),
                          *(column(k, f"to {s}", digits=3) for k, s in zip(keys, result.cascade_stages))]}
    return {"header": header, "rows": rows}


# ---- Markdown for the terminal and the report ------------------------------------------------------

def column_title(metric: str, chance: dict[str, float]) -> str:
    """`name arrow`, plus the chance level where the metric has one (the pointing game)."""
    title = f"{metric} {ARROWS[METRICS[metric].better]}"
    return f"{title} (chance {chance[metric]:.3f})" if metric in chance else title


def cell(row: dict) -> str:
    """`mean [low, high]`, perturbation AUCs (x 100) to 2 decimals, the rest to 3."""
    f = "{:.2f}" if row["metric"].startswith("perturbation") else "{:.3f}"
    return f"{f.format(row['mean'])} [{f.format(row['ci_low'])}, {f.format(row['ci_high'])}]"


def markdown_table(data: dict) -> str:
    """Markdown table from an `xai_results.json`-shaped dict: one row per method, one column per
    metric (arrow = better direction), each cell the mean and its 95% interval."""
    header, rows = data["header"], data["rows"]
    chance = header.get("chance", {})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["metric"]): r for r in rows}
    head = ["method", *[column_title(m, chance) for m in header["metrics"]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in methods:
        cells = [cell(by[name, m]) if (name, m) in by else "n/a" for m in header["metrics"]]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def separation_lines(data: dict) -> list[str]:
    """Per metric, which methods are ahead of which (the interval of the difference excludes 0);
    every other pair is not separated."""
    lines = []
    for metric in data["header"]["metrics"]:
        rows = [r for r in data["rows"] if r["metric"] == metric]
        ahead = [f"{r['method']} > {b}" for r in rows for b, d in r["differences"].items() if d["verdict"] == "better"]
        pairs = len(rows) * (len(rows) - 1) // 2
        lines.append(f"- `{metric}`: {len(ahead)} of {pairs} pairs separated"
                     + (f": {', '.join(ahead)}" if ahead else "") + "; every other pair not separated.")
    return lines


def cascade_table(data: dict) -> str:
    """Markdown table of an `xai_cascade.json`-shaped dict: one row per method, one column per stage."""
    columns = data["header"]["columns"][1:]
    keys = [c["key"] for c in columns]
    lines = ["| " + " | ".join(["method", *(c["title"] for c in columns)]) + " |", "|" + "---|" * (len(keys) + 1)]
    lines += ["| " + " | ".join([r["method"], *(f"{r[k]:.3f}" for k in keys)]) + " |" for r in data["rows"]]
    return "\n".join(lines)


def report_lines(data: dict, cascade: dict | None, command: str) -> list[str]:
    """`xai_report.md`: the table with intervals, which pairs are separated, the cascading
    randomisation, what the metrics mean."""
    h = data["header"]
    lines = [f"# Explanation quality: {h['subject']}", "",
             f"{h['n_images']} images, model accuracy {h['accuracy']:.4f}. Explained class: the predicted one "
             f"(in the randomised models too). Each cell: the mean over images and its 95% bootstrap interval "
             f"({stats.N_RESAMPLES} resamples).", "", markdown_table(data), "",
             "Ranked only where the paired 95% interval of the difference excludes 0 (`a > b`: a is better):", "",
             *separation_lines(data), ""]
    if cascade is not None and cascade["rows"]:
        lines += ["Cascading randomisation (Adebayo et al.): weights drawn afresh from the top down to each "
                  "stage; mean absolute Spearman correlation with the trained model's map.", "",
                  cascade_table(cascade), ""]
    lines += ["Metrics:", ""]
    lines += [f"- `{m}` ({METRICS[m].better} is better): {METRICS[m].summary}" for m in h["metrics"]]
    return lines + (["", f"Command: `{command}`"] if command else [])


def dumps(data: dict) -> str:
    """JSON with the header indented and one line per row (rows carry every image's scores)."""
    head = {k: v for k, v in data.items() if k != "rows"}
    text = json.dumps(head, indent=1)[:-2]  # without the closing brace
    rows = ",\n".join(json.dumps(r) for r in data["rows"])
    return f'{text},\n "rows": [\n{rows}\n ]\n}}\n'


def write_report(result: EvalResult, out: Path, images: np.ndarray, command: str = "",
                 machine: dict | None = None, run: dict | None = None) -> dict[str, Path]:
    """`xai_results.json` (rows with intervals and per-image scores), `xai_report.md`,
    `xai_methods.png` (images x methods), `xai_curves.png`, and with the sanity check
    `xai_cascade.json` and `xai_cascade.png` (rank correlation per randomisation stage)."""
    from .plots import plot_cascade, plot_method_grid, plot_metric_curves

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / RESULTS, "report": out / "xai_report.md",
             "grid": out / "xai_methods.png", "curves": out / "xai_curves.png"}
    data = results_json(result, command, machine, run)
    paths["json"].write_text(dumps(data))
    cascade = cascade_json(result, command, machine) if result.cascade else None
    if cascade is not None:
        paths["cascade_json"] = out / CASCADE
        paths["cascade_json"].write_text(dumps(cascade))
    paths["report"].write_text("\n".join(report_lines(data, cascade, command)) + "\n")
    shown = np.linspace(0, len(images) - 1, min(6, len(images))).round().astype(int)
    plot_method_grid(images[shown], {k: v[shown] for k, v in result.maps.items()}, paths["grid"], result.subject)
    plot_metric_curves(result.curves, paths["curves"], result.subject)
    if result.cascade:
        paths["cascade"] = plot_cascade(result.cascade, result.cascade_stages, out / "xai_cascade.png", result.subject,
                                        sanity.PASS_BELOW)
    return paths
