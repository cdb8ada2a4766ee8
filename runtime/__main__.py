"""`python -m runtime predict ARTIFACT IMAGE... --out DIR [--top-k 3] [--backend NAME] [--explain-class A,B]`
`python -m runtime compare ARTIFACT_A ARTIFACT_B IMAGE... --out DIR`
`python -m runtime serve ARTIFACT [ARTIFACT_B] [--port 7860]`: the viewer in the browser (extra `serve`)

ARTIFACT is an export artifact folder, a checkpoint folder, or a Hugging Face Hub id `org/name`
(downloaded, every file checked against the manifest's SHA-256, cached).

Bad images never stop a batch: each gets an error row, the others are still predicted, and
the exit status is 1 at the end when any image failed."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from _infra.cli import ArgumentParser, add_common, run_cli, split_list, unknown_name, whole_number
from _infra.outputs import WRITTEN_BY
from _infra.errors import ToolkitError
from _infra.pictures import printable

from .backend import BACKENDS
from .contract import EXPLAIN
from .predictor import load


PROG = "python -m runtime"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="predict, compare or serve")
    p = sub.add_parser("predict", help="predict and explain images", description="Predict and explain images.")
    p.add_argument("artifact", help="export artifact folder, checkpoint folder, or hub id org/name")
    p.add_argument("images", nargs="+", help="image files (any size and mode)")
    add_common(p, "folder for predictions.json and the pictures", RESULT_FORCE_HELP)
    p.add_argument("--top-k", type=whole_number(1), default=3, help="classes listed per image (>= 1)")
    p.add_argument("--backend", choices=list(BACKENDS), default=None, help="runtime backend (default: the manifest's)")
    p.add_argument("--explain-class", nargs="+", default=None, metavar="A,B",
                   help="gradrollout artifacts: also explain these classes (labels or indices, comma list), "
                        "side by side in *_classes.png")
    c = sub.add_parser("compare", help="two models side by side on the same images",
                       description="Two models side by side on the same images.")
    c.add_argument("artifact_a", help="first artifact (or checkpoint) folder")
    c.add_argument("artifact_b", help="second artifact (or checkpoint) folder")
    c.add_argument("images", nargs="+", help="image files (any size and mode)")
    add_common(c, "folder for predictions.json and the side-by-side pictures", RESULT_FORCE_HELP)
    add_serve_parser(sub)
    return parser


def add_serve_parser(sub) -> None:
    from .serve import DEFAULT_HOST, DEFAULT_PORT

    s = sub.add_parser("serve", help="a local viewer in the browser: drop an image, see label, top-k and heatmap",
                       description="A local viewer (Gradio): drop an image, see each artifact's label, top-k and "
                                   "heatmap; two artifacts side by side. Needs the serve extra.")
    s.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help="one or two artifact folders or hub ids")
    s.add_argument("--host", default=DEFAULT_HOST, help="address to serve on (this machine only unless changed)")
    s.add_argument("--port", type=whole_number(1), default=DEFAULT_PORT, help="port to serve on")
    s.add_argument("--top-k", type=whole_number(1), default=5, help="classes listed per image (>= 1)")
    s.add_argument("--verbose", action="store_true", help="show other libraries' warnings and logs")


RESULT_FORCE_HELP = ("replace an existing --out that this command wrote (it does so without the flag too: "
                     "a result folder is rewritten whole; a folder the toolkit did not write is never replaced)")
STEM_CHARS = 80  # picture names stay far below the file systems' 255-byte limit, whatever the input's name
SOURCE_CHARS = 40  # the printed table's file column: the end of the path
RESULTS = "predictions.json"  # the rows, and the marker that this command wrote the folder (_infra.outputs)
COMMANDS = {"predict": "python -m runtime predict", "compare": "python -m runtime compare"}


def stem(source: str, index: int) -> str:
    """A picture's name from its input's: printable (no newline, no undecodable bytes), bounded."""
    return f"{index:03d}_{printable(Path(source).stem)[:STEM_CHARS]}" if not source.startswith("<") \
        else f"{index:03d}_array"


def shown(source: str) -> str:
    """The table's file column: the printable end of the path, padded."""
    return f"{printable(source)[-SOURCE_CHARS:]:{SOURCE_CHARS}s}"


def output_folder(args, *inputs: str):
    """The pictures' folder: new, empty, or one this command wrote (replaced whole at the end, see
    _infra.outputs); never an input, the current folder or a user's folder."""
    from _infra.outputs import path_sources, result_folder

    if not args.out.strip():
        raise ToolkitError("--out is empty: name a folder for the pictures")
    return result_folder(args.out, RESULTS, COMMANDS[args.command], f"a folder of '{COMMANDS[args.command]}'",
                         sources=path_sources(*inputs))


def write_rows(folder: Path, command: str, prediction, errors) -> None:
    """predictions.json: one row per image (top-k or error), marking the folder as this command's."""
    import json

    rows = [{"source": s, "top_k": [[label, p] for label, p in prediction.top_k[i]]} if e is None
            else {"source": s, "error": e} for i, (s, e) in enumerate(zip(prediction.sources, prediction.error))]
    (folder / RESULTS).write_text(json.dumps({WRITTEN_BY: COMMANDS[command], "rows": rows}, indent=2))


def predict_command(args) -> int:
    predictor = load(args.artifact, backend=args.backend)
    classes = explain_class_indices(predictor, args.explain_class, args.artifact)  # refused before any work
    with output_folder(args, args.artifact, *args.images) as work:
        prediction = predict_into(work, predictor, args, classes)
    return report(prediction, f"pictures: {args.out}/ ({len(prediction.predicted)} predicted, "
                              f"{len(prediction.errors)} failed)")


def explain_class_indices(predictor, given: list[str] | None, artifact: str) -> list[int]:
    """`--explain-class` as class indices, checked against the artifact: it must take a class
    (gradrollout) and know each name. A value that is a label as a whole stays whole (ImageNet's
    labels hold commas); any other is a comma list."""
    if not given:
        return []
    kind = predictor.manifest.explain
    if not EXPLAIN[kind].class_input:
        raise ToolkitError(f"--explain-class needs an artifact exported with --explain gradrollout; "
                           f"{printable(artifact)} explains with '{kind}', which takes no class")
    labels = [str(label) for label in predictor.manifest.labels]
    names = [n for value in given for n in ([value] if value in labels else split_list(value))]
    problems = [unknown_name("class", n, labels) for n in names
                if n not in labels and not (n.lstrip("-").isdigit() and -len(labels) <= int(n) < len(labels))]
    if problems:
        raise ToolkitError(*problems)
    return [predictor.class_index(n) for n in names]


def report(prediction, written: str) -> int:
    """Each failed image on a line, then what was written; exit status 1 when some image failed."""
    for source, message in prediction.errors:
        print(f"{shown(source)} ERROR {printable(message)}")
    print(written)
    return 1 if prediction.errors else 0


def predict_into(out: Path, predictor, args, classes: list[int]):
    prediction = predictor.predict(args.images, top_k=args.top_k)
    per_image_ms = prediction.seconds * 1e3 / max(len(prediction.predicted), 1)
    print(f"{'file':{SOURCE_CHARS}s} {'top-' + str(args.top_k):50s} {'ms':>7s}")
    for i in prediction.predicted:
        source = prediction.sources[i]
        tops = "  ".join(f"{printable(label)} {p:.1%}" for label, p in prediction.top_k[i])
        print(f"{shown(source)} {tops:50s} {per_image_ms:7.1f}")
    draw_predictions(prediction, out)
    if classes:
        explain_classes(predictor, args.images, prediction, classes, out)
    write_rows(out, "predict", prediction, prediction.errors)
    return prediction


def draw_predictions(prediction, out: Path) -> None:
    """Per image: the explanation over the photo (when the artifact explains) and the probabilities
    (Pillow pictures: the base install draws them too)."""
    from xai.overlay import probabilities_picture

    for i in prediction.predicted:
        source, name = prediction.sources[i], stem(prediction.sources[i], i)
        if prediction.heatmaps_full:
            prediction.picture(i).save(out / f"{name}_explain.png")
        probabilities_picture(prediction.labels, prediction.probs[i],
                              title=f"{Path(source).name}: class probabilities").save(out / f"{name}_probs.png")


def explain_classes(predictor, images, prediction, indices: list[int], out: Path) -> None:
    """One picture per image: the relevance map for each named class, with that class's probability."""
    from xai.overlay import comparison_picture

    per_class = [predictor.predict(images, explain_class=c) for c in indices]
    for i in prediction.predicted:
        source = prediction.sources[i]
        rows = [(f"why '{prediction.labels[c]}'?", prediction.labels[c], float(prediction.probs[i][c]),
                 p.heatmaps_full[i]) for c, p in zip(indices, per_class)]
        comparison_picture(np.asarray(prediction.images[i]), rows,
                           title=f"{Path(source).name}: predicted {prediction.top_k[i][0][0]}"
                           ).save(out / f"{stem(source, i)}_classes.png")


def compare_command(args) -> int:
    with output_folder(args, args.artifact_a, args.artifact_b, *args.images) as work:
        first = compare_into(work, args)
    return report(first, f"pictures: {args.out}/")


def compare_into(out: Path, args):
    from xai.overlay import comparison_picture

    predictors = [load(a) for a in (args.artifact_a, args.artifact_b)]
    plain = [a for a, p in zip((args.artifact_a, args.artifact_b), predictors) if not p.explains]
    if plain:
        raise ToolkitError(f"{', '.join(plain)}: exported with --explain none, so there is no heatmap to compare; "
                         f"export with --explain rollout or gradrollout")
    predictions = [p.predict(args.images) for p in predictors]
    names = [Path(a).name for a in (args.artifact_a, args.artifact_b)]
    first = predictions[0]
    for i in first.predicted:
        source = first.sources[i]
        rows = [(n, p.top_k[i][0][0], p.top_k[i][0][1], p.heatmaps_full[i]) for n, p in zip(names, predictions)]
        comparison_picture(np.asarray(first.images[i]), rows, title=Path(source).name
                           ).save(out / f"{stem(source, i)}_compare.png")
        print(f"{shown(source)} " + "  ".join(f"{printable(n)}: {printable(r[1])} {r[2]:.1%}"
                                              for n, r in zip(names, rows)))
    write_rows(out, "compare", first, first.errors)
    return first


def serve_command(args) -> int:
    from .serve import serve

    if len(args.artifacts) > 2:
        raise ToolkitError(f"serve shows one artifact, or two side by side; got {len(args.artifacts)}")
    serve(args.artifacts, host=args.host, port=args.port, top_k=args.top_k)
    return 0


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    commands = {"predict": predict_command, "compare": compare_command, "serve": serve_command}
    return run_cli(lambda: commands[args.command](args), args.verbose, extra="serve" if args.command == "serve" else None)


if __name__ == "__main__":
    sys.exit(main())
