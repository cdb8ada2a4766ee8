"""Raw attention: the last layer's CLS-row attention over the patches, heads averaged.
The baseline of Abnar & Zuidema (2020), https://arxiv.org/abs/2005.00928, and of Chefer et al.
(2021), https://arxiv.org/abs/2012.09838 ("raw attention" in their tables)."""
from __future__ import annotations

from ..rollout import raw_attention_map
from . import Method, register_method

register_method(Method(
    name="raw-attention", summary="last layer's CLS attention, head mean",
    paper="https://arxiv.org/abs/2005.00928", gradients=False,
    fn=lambda cap, grid, n_special: raw_attention_map(cap.attentions, grid, n_special, cap.readout)))
