"""Evaluation protocols, a registry: a published evaluation as a fixed choice of methods, metrics
and options, so `xai eval --protocol NAME` runs it as its authors did (the CLI's choices come from
`PROTOCOLS`).

`chefer`: Chefer, Gur & Wolf, "Transformer Interpretability Beyond Attention Visualization", CVPR
2021, https://arxiv.org/abs/2012.09838, as their code runs it (hila-chefer/Transformer-Explainability,
`baselines/ViT/generate_visualizations.py` and `pertubation_eval_from_hdf5.py`): the four methods of
their ViT-B/16 table (raw attention = `attn_last_layer`, rollout and transformer attribution with
`start_layer=1`, Grad-CAM on the last attention map = `attn_gradcam`), positive and negative
perturbation only, each map explaining the predicted class (their default `--vis-class top`: no
index is passed, so each method takes the argmax of the logits) while the perturbed accuracy is
read against the true labels (`target == argmax`), no sanity check.
"""
from __future__ import annotations

from dataclasses import dataclass

from _infra.registry import add_unique


@dataclass(frozen=True)
class Protocol:
    name: str
    summary: str
    paper: str
    methods: tuple[str, ...]  # names in `xai.methods.METHODS`, table order
    metrics: tuple[str, ...]  # names in `xai.metrics.METRICS`
    sanity: bool = False  # run the model-randomisation sanity check
    explained: str = "predicted"  # the class each map explains (the only one `xai.evaluate` explains)


PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(protocol: Protocol) -> Protocol:
    return add_unique(PROTOCOLS, protocol.name, protocol, "protocol")


def unknown_names(protocol: Protocol) -> list[str]:
    """The protocol's method and metric names that their registries do not hold (empty when sound)."""
    from .methods import METHODS
    from .metrics import METRICS

    return ([f"method {n}" for n in protocol.methods if n not in METHODS]
            + [f"metric {n}" for n in protocol.metrics if n not in METRICS])


register_protocol(Protocol(
    name="chefer", summary="Chefer et al.'s ViT table: 4 methods, start layer 1, perturbation only, predicted class",
    paper="https://arxiv.org/abs/2012.09838",
    methods=("raw-attention", "rollout-from-1", "gradcam-attn", "transformer-attribution-from-1"),
    metrics=("perturbation-pos", "perturbation-neg")))
