"""Attention rollout: Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020,
https://arxiv.org/abs/2005.00928, with the head-fusion and discard-ratio variants of
jacobgil/vit-explain. The maths is `xai.rollout` (shared with `runtime` and the exported graphs).
`rollout-from-1` is the rollout baseline of Chefer, Gur & Wolf (CVPR 2021,
https://arxiv.org/abs/2012.09838) as their evaluation runs it: the product starts at layer 1,
leaving out the first layer's attention."""
from __future__ import annotations

from ..rollout import rollout_map
from . import Method, register_method

# (name, head fusion, discard ratio): the mean form is the one exported graphs compute; max and
# min with 90% of the lowest attention discarded are vit-explain's suggested settings.
VARIANTS = (("rollout", "mean", 0.0), ("rollout-max", "max", 0.9), ("rollout-min", "min", 0.9))

for _name, _fusion, _discard in VARIANTS:
    register_method(Method(
        name=_name, summary=f"head {_fusion}, discard {_discard:.0%}, + identity, product over layers",
        paper="https://arxiv.org/abs/2005.00928", gradients=False,
        fn=lambda cap, grid, n_special, f=_fusion, d=_discard: rollout_map(cap.attentions, grid, n_special, f, d,
                                                                           cap.readout)))

register_method(Method(
    name="rollout-from-1", summary="head mean, + identity, product over layers 1.. (Chefer et al.'s baseline)",
    paper="https://arxiv.org/abs/2005.00928", gradients=False,
    fn=lambda cap, grid, n_special: rollout_map(cap.attentions[1:], grid, n_special, readout=cap.readout)))
