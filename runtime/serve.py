"""`python -m runtime serve ARTIFACT [ARTIFACT_B]`: a local viewer in the browser (Gradio, the `serve`
extra). Drop an image: each artifact's label, its top-k and the heatmap over the image; for a
gradrollout artifact, pick the class to explain. With two artifacts they are shown side by side on
the same image.

The page is served on this machine only (127.0.0.1 unless told otherwise) and never shared through
Gradio's tunnel. What a panel shows is computed by `view`, a plain function of a predictor and an
image (tested without a browser); gradio is imported only by `build_app`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from _infra.pictures import printable

from .contract import EXPLAIN
from .predictor import Predictor

PREDICTED = "(predicted class)"  # the class choice that explains each image's own top-1
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


@dataclass(frozen=True)
class View:
    """What one artifact's panel shows for one image."""

    headline: str  # markdown: the top-1 label and probability, or why there is none
    top_k: dict[str, float] = field(default_factory=dict)  # label -> probability, most likely first
    overlay: Image.Image | None = None  # the heatmap over the image, at the image's size


def class_choices(predictor: Predictor) -> list[str] | None:
    """The classes a panel may explain: None unless the artifact takes a class (gradrollout)."""
    if not EXPLAIN[predictor.manifest.explain].class_input:
        return None
    return [PREDICTED, *map(str, predictor.manifest.labels)]


def view(predictor: Predictor, image: str | Path | Image.Image | None, top_k: int = 5,
         explain_class: str | None = None) -> View:
    """One image through one artifact. explain_class: a label of a gradrollout artifact (None or
    PREDICTED: each image's predicted class). A file that is not a readable image is a headline, not
    an exception: the page stays up."""
    if image is None:
        return View("Drop an image to see the label and the explanation.")
    target = None if explain_class in (None, "", PREDICTED) else explain_class
    labels = [str(label) for label in predictor.manifest.labels]
    index = labels.index(target) if target in labels else target  # a label, never read as an index
    prediction = predictor.predict(image, top_k=top_k, explain_class=index)
    if prediction.error[0] is not None:
        return View(f"**Not an image this model can read**: {printable(prediction.error[0], 300)}")
    label, prob = prediction.top_k[0][0]
    why = f"; heatmap: why '{printable(target)}'" if target is not None else ""
    headline = f"**{printable(label)}** ({prob:.1%}){why}"
    overlay = prediction.overlay(0) if predictor.explains else None
    if overlay is None:
        headline += " (exported with --explain none: no heatmap)"
    return View(headline, dict(prediction.top_k[0]), overlay)


def panel_title(name: str, predictor: Predictor) -> str:
    """An artifact's heading: its name, format, precision and explanation."""
    m = predictor.manifest
    return f"### {printable(name, 60)}\n{m.format} {m.precision}, explain {m.explain}, {len(m.labels)} classes"


def build_app(predictors: list[tuple[str, Predictor]], top_k: int = 5):
    """The page: one image input, a panel per artifact (side by side), each with its class choice
    when the artifact takes one. Returns a `gradio.Blocks` (not launched)."""
    import gradio as gr

    title = "explainable-vit: " + " vs ".join(printable(n, 40) for n, _ in predictors)
    with gr.Blocks(title=title) as app:
        gr.Markdown(f"## {title}\nDrop an image: label, top-{top_k} and the explanation heatmap of each model.")
        image = gr.Image(type="filepath", image_mode=None, sources=["upload", "clipboard"], label="image",
                         elem_id="image")
        with gr.Row():
            for index, (name, predictor) in enumerate(predictors):
                with gr.Column():
                    _panel(gr, image, index, name, predictor, top_k)
    return app


def _panel(gr, image, index: int, name: str, predictor: Predictor, top_k: int) -> None:
    """One artifact's column: heading, class choice (gradrollout), headline, top-k, overlay."""
    gr.Markdown(panel_title(name, predictor))
    choices = class_choices(predictor)
    chosen = gr.Dropdown(choices, value=PREDICTED, label="explain class", elem_id=f"class-{index}") \
        if choices else None
    headline = gr.Markdown(view(predictor, None).headline, elem_id=f"headline-{index}")
    label = gr.Label(num_top_classes=top_k, label=f"top-{top_k}", elem_id=f"top-{index}")
    overlay = gr.Image(type="pil", interactive=False, label="explanation", format="png", elem_id=f"overlay-{index}")

    def show(path, explain_class=None):
        shown = view(predictor, path, top_k, explain_class)
        return shown.headline, shown.top_k or None, shown.overlay

    inputs = [image] + ([chosen] if chosen is not None else [])
    for trigger in [image] + ([chosen] if chosen is not None else []):
        trigger.change(show, inputs=inputs, outputs=[headline, label, overlay])


def serve(artifacts: list[str], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, top_k: int = 5,
          block: bool = True):
    """Load each artifact (a folder or a hub id), build the page and serve it at http://host:port.
    block=False returns `(app, url)` with the server running in a thread (tests, notebooks)."""
    from .predictor import load

    predictors = [(Path(a).name if Path(a).exists() else a, load(a)) for a in artifacts]
    app = build_app(predictors, top_k)
    _, url, _ = app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
                           prevent_thread_lock=not block, quiet=not block)
    return app, url
