"""The model card (`README.md`) that goes to the Hugging Face Hub with an artifact: the metadata the
hub reads (YAML front matter), what the model is, its labels, its parity with PyTorch from the
manifest, accuracy and latency from a bench run when one is given, an example heatmap, and how to
use it from Python and Swift. Made from the manifest alone: nothing is guessed, no figure is typed.

Card metadata: https://huggingface.co/docs/hub/model-cards#model-card-metadata"""
from __future__ import annotations

import json
from pathlib import Path

from _infra.pictures import printable

from .contract import EXPLAIN
from .manifest import Manifest

PACKAGE = "explainable-vit"
SHOWN_LABELS = 40  # more labels are listed in manifest.json, not in the card
PICTURE = "example.png"  # the heatmap picture beside the card in the repository
BENCH_COLUMNS = (("accuracy", "accuracy", "{:.4f}"), ("macro_f1", "macro F1", "{:.4f}"),
                 ("agreement", "top-1 agreement with PyTorch", "{:.4f}"),
                 ("heatmap_corr", "heatmap correlation with PyTorch", "{:.4f}"),
                 ("latency_ms_p50", "latency, batch 1, p50 (ms)", "{:.3f}"),
                 ("throughput_ips", "throughput (images/s)", "{:.1f}"), ("size_mb", "size (MB)", "{:.2f}"))


def model_card(manifest: Manifest, repo_id: str, bench: dict | None = None, picture: str | None = None,
               license: str | None = None) -> str:
    """The card's markdown. bench: a `python -m bench` results.json (header and rows), of which the
    rows for this artifact's backend, precision and explain kind are shown; picture: the example
    heatmap's file name in the repository."""
    sections = [front_matter(manifest, license), f"# {_md(repo_id.split('/')[-1])}\n", what_it_is(manifest),
                labels_section(manifest), parity_section(manifest), bench_section(manifest, bench),
                picture_section(picture), python_usage(repo_id, manifest), swift_usage(repo_id, manifest),
                files_section(manifest)]
    return "\n".join(s for s in sections if s)


def front_matter(manifest: Manifest, license: str | None) -> str:
    """The YAML block the hub reads: library, task, tags, base model (a hub id only), license."""
    kind = EXPLAIN[manifest.explain]
    tags = [PACKAGE, manifest.format, manifest.precision, "vision-transformer", manifest.source.get("model_type"),
            "explainability" if kind.explains else None, f"explain-{manifest.explain}"]
    meta = {"library_name": manifest.format, "pipeline_tag": "image-classification",
            "tags": [t for t in tags if t]}
    base = manifest.source.get("checkpoint", "")
    if _is_hub_id(base):
        meta["base_model"] = base
    if license:
        meta["license"] = license
    # JSON is YAML: every value quoted and escaped, whatever a label or name holds
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in meta.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def what_it_is(manifest: Manifest) -> str:
    kind = EXPLAIN[manifest.explain]
    h, w = manifest.image_size
    source = manifest.source
    base = source.get("checkpoint", "")
    origin = f"fine-tuned from [{base}](https://huggingface.co/{base})" if _is_hub_id(base) else "a local checkpoint"
    return (f"A {_md(source.get('model_type', 'ViT'))} image classifier ({_md(source.get('architecture', ''))}, "
            f"{origin}, weights SHA-256 `{source.get('sha256', '?')[:16]}…`) exported to **{manifest.format} "
            f"{manifest.precision}** by [{PACKAGE}](https://pypi.org/project/{PACKAGE}/), with its explanation "
            f"computed inside the graph: {_md(kind.description)}.\n\n"
            f"* input: {h}x{w} RGB (`{manifest.input['name']}`, {manifest.input['dtype']}, "
            f"{manifest.input.get('layout', '')}), any photo resized with {manifest.preprocessing['resample']}; "
            f"normalisation {manifest.preprocessing.get('normalisation', 'inside the graph')}\n"
            f"* {manifest.num_layers} layers, {manifest.num_heads} heads, a {manifest.patch_grid[0]}x"
            f"{manifest.patch_grid[1]} patch grid; outputs {', '.join(f'`{n}`' for n in manifest.outputs)}\n"
            f"* `manifest.json` is the contract: preprocessing, labels, outputs, and the size and SHA-256 of "
            f"every model file, which the runtime checks before loading\n")


def labels_section(manifest: Manifest) -> str:
    labels = manifest.labels
    shown = ", ".join(f"`{_md(label)}`" for label in labels[:SHOWN_LABELS])
    more = f", … ({len(labels) - SHOWN_LABELS} more in `manifest.json`)" if len(labels) > SHOWN_LABELS else ""
    return f"## Labels\n\n{len(labels)} classes: {shown}{more}\n"


def parity_section(manifest: Manifest) -> str:
    """The export's own check against PyTorch on the same images."""
    parity = manifest.parity
    if not parity:
        return "## Parity with PyTorch\n\nNot checked at export.\n"
    rows = [f"| {_md(name)} | {r['max_abs_diff']:.3g} | {r['tolerance']:.3g} | {'yes' if r['ok'] else 'no'} |"
            for name, r in parity.get("outputs", {}).items() if not name.startswith("attention_")]
    agreement = parity.get("top1_agreement")
    head = (f"## Parity with PyTorch\n\nChecked at export on {parity.get('images', '?')} images with the "
            f"{_md(parity.get('backend', manifest.format))} backend: **{_md(parity.get('status', '?'))}**"
            + (f", top-1 agreement {agreement:.4f}" if isinstance(agreement, (int, float)) else "")
            + (f" ({_md(parity['reason'])})" if parity.get("reason") else "") + ".\n")
    if not rows:
        return head
    return head + "\n| output | max abs difference | tolerance | within |\n| --- | --- | --- | --- |\n" \
        + "\n".join(rows) + "\n"


def matching_rows(manifest: Manifest, bench: dict) -> list[dict]:
    """The bench rows of this artifact's default backend, precision and explain kind, and PyTorch's
    fp32 reference row with the same explanation, in the bench's order."""
    from .contract import FORMATS

    backend = FORMATS[manifest.format].backend
    wanted = {(backend, manifest.precision, manifest.explain), ("torch", "fp32", manifest.explain)}
    return [r for r in bench.get("rows", []) if (r.get("backend"), r.get("precision"), r.get("explain")) in wanted
            and not r.get("peer") and r.get("status", "works") == "works"]


def bench_section(manifest: Manifest, bench: dict | None) -> str:
    if not bench:
        return ""
    rows = matching_rows(manifest, bench)
    if not rows:
        return ""
    header, columns = bench.get("header", {}), [c for c in BENCH_COLUMNS if any(c[0] in r for r in rows)]
    machine = header.get("machine", {})
    lines = [f"| target | {' | '.join(title for _, title, _ in columns)} |", "| --- " * (len(columns) + 1) + "|"]
    lines += [f"| {_md(r.get('target', ''))} | " + " | ".join(
        fmt.format(r[key]) if isinstance(r.get(key), (int, float)) else "" for key, _, fmt in columns) + " |"
        for r in rows]
    return (f"## Accuracy and speed\n\nMeasured by `python -m bench` on {header.get('images', '?')} test images of "
            f"`{_md(Path(str(header.get('data', '?'))).name)}`, {_md(machine.get('cpu', '?'))} "
            f"({machine.get('cores', '?')} cores):\n\n" + "\n".join(lines) + "\n")


def picture_section(picture: str | None) -> str:
    if not picture:
        return ""
    return (f"## Example\n\n![The input beside its explanation heatmap]({picture})\n\n"
            "Red: the patches the explanation gives most relevance (min-max scaled), blue the least.\n")


def python_usage(repo_id: str, manifest: Manifest) -> str:
    extra = "" if manifest.format == "onnx" else "[coreml]"
    why = ("\nprediction = predictor.predict(\"photo.jpg\", explain_class=\"" + _code(manifest.labels[0]) + "\")"
           "  # why this class?") if EXPLAIN[manifest.explain].class_input else ""
    return (f"## Use it from Python\n\n```bash\npip install \"{PACKAGE}{extra}\"\n"
            f"python -m runtime predict {repo_id} photo.jpg --out predictions\n```\n\n"
            f"```python\nimport runtime\n\npredictor = runtime.load(\"{repo_id}\")  # downloaded, SHA-256 checked, cached\n"
            f"prediction = predictor.predict([\"photo.jpg\"])\nprint(prediction.top_k[0])  # [(label, probability), ...]\n"
            + (f"prediction.overlay(0).save(\"overlay.png\")  # the heatmap over the photo (PIL image)"
               if EXPLAIN[manifest.explain].explains else "") + why + "\n```\n")


def swift_usage(repo_id: str, manifest: Manifest) -> str:
    if manifest.format != "coreml":
        return (f"## Use it from Swift\n\nThe Swift package `ExplainableViT` runs Core ML artifacts: export the same "
                f"checkpoint with `python -m export coreml` and see the Core ML card, or serve this ONNX artifact "
                f"with ONNX Runtime.\n")
    return (f"## Use it from Swift (iOS 16 / macOS 13)\n\nAdd the `ExplainableViT` Swift package "
            f"(`.package(url: \"<repository URL>\", branch: \"main\")`), download the model "
            f"(`hf download {repo_id} --local-dir model`) or bundle it, then:\n\n```swift\nimport ExplainableViT\n\n"
            f"let classifier = try await ExplainableClassifier.load(packageAt: modelURL.appendingPathComponent("
            f"\"{manifest.model_file}\"), prewarm: true)\nlet result = try await classifier.explain(photo, class: nil)"
            f"  // an upright CGImage\nresult.label; result.ranked.prefix(3); result.overlayImage\n```\n")


def files_section(manifest: Manifest) -> str:
    rows = [f"| `{_md(name)}` | {r['size']:,} | `{r['sha256']}` |" for name, r in manifest.files.items()]
    versions = ", ".join(f"{_md(k)} {_md(v)}" for k, v in manifest.versions.items())
    return ("## Files\n\n| file | bytes | SHA-256 |\n| --- | --- | --- |\n" + "\n".join(rows)
            + f"\n\nExported with {versions}.\n")


def _is_hub_id(text: str) -> bool:
    from .hub import is_hub_id

    return is_hub_id(text) and not Path(text).exists()


def _md(text) -> str:
    """A name as markdown text: printable, no table separator, no HTML."""
    return printable(text, 200).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _code(text) -> str:
    """A name inside a Python string literal."""
    return printable(text, 200).replace("\\", "\\\\").replace('"', '\\"')
