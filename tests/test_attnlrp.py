"""AttnLRP (`xai.methods.attnlrp`) against its authors' package `lxt` 2.x on the same weights.

lxt's rules for vision transformers (`lxt.efficient.models.vit_torch.cp_LRP`: its LayerNorm
patch, the identity rule on the activation, CP-LRP at the attention) are applied to transformers'
ViT/DeiT modules with lxt's own functions, and relevance is read as lxt does: input x gradient at
the pixels after a backward from the explained logit. Tiny random-weight models, a few seconds.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_tiny_checkpoint

from runtime.checkpoint import load_checkpoint
from xai.hooks import capture
from xai.methods import METHODS, patches_to_grid
from xai.methods.attnlrp import AttnLRPRules, patch_relevance
from xai.subjects import randomise_weights
from xai.vit import Layout, gradient_x_input

LXT_CORRELATION = 0.99  # per image, patch relevance, ours against lxt's (issue #31's bar)
MODELS = {"vit": dict(kind="vit", seed=1), "deit": dict(kind="deit", seed=2),
          "deit-distilled": dict(kind="deit", distilled=True, seed=3)}
GRID = (4, 4)


@pytest.fixture(scope="module")
def lxt_patches():
    """`lxt.efficient.patches`, lxt's rule functions. lxt's package `__init__` imports every model
    map it ships, torchvision's ViT among them, and torchvision's PyPI wheels load only with a CUDA
    build of torch (pytorch/vision#9085: 'operator torchvision::nms does not exist'); the rule
    modules themselves import only torch, so they are loaded from the installed package on their own."""
    spec = importlib.util.find_spec("lxt")
    if spec is None:
        pytest.importorskip("lxt", reason="lxt is a test dependency (pip install -e .[test])")
    root = Path(spec.origin).parent
    added = [name for name in ("lxt", "lxt.efficient") if name not in sys.modules]
    for name in added:  # bare packages over lxt's folders: their __init__ files are not run
        package = types.ModuleType(name)
        package.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        sys.modules[name] = package
    try:
        yield pytest.importorskip("lxt.efficient.patches")
    finally:
        if added:
            for name in [n for n in sys.modules if n == "lxt" or n.startswith("lxt.")]:
                del sys.modules[name]


@pytest.fixture(scope="module", params=list(MODELS))
def model(request, tmp_path_factory):
    folder = save_tiny_checkpoint(tmp_path_factory.mktemp(request.param), **MODELS[request.param])
    # every tensor drawn afresh: HF's DeiT starts with zero CLS/distillation tokens and positions
    return randomise_weights(copy.deepcopy(load_checkpoint(folder).model), seed=7)


def pixels(batch: int = 4) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(0, 1, (batch, 3, 32, 32))).float()


def lxt_relevance(model, patches, monkeypatch, x: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Patch relevance `(B, P)` by lxt's rules on the HF modules: input x gradient at the pixels."""
    from transformers.activations import GELUActivation
    from transformers.models.deit import modeling_deit
    from transformers.models.vit import modeling_vit

    with monkeypatch.context() as m:  # what lxt's patch_method / patch_cp_attention do, undone after
        m.setattr(torch.nn.LayerNorm, "forward", patches.layer_norm_forward)
        m.setattr(GELUActivation, "original_forward", GELUActivation.forward, raising=False)
        m.setattr(GELUActivation, "forward", patches.non_linear_forward)
        for module in (modeling_vit, modeling_deit):
            m.setattr(module, "eager_attention_forward", patches.cp_wrap_attention_forward(module.eager_attention_forward))
        x = x.clone().requires_grad_(True)
        model(pixel_values=x).logits.gather(1, targets[:, None]).sum().backward()
    model.zero_grad(set_to_none=True)
    return patch_relevance((x * x.grad).detach().numpy(), GRID)


def correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([np.corrcoef(u, v)[0, 1] for u, v in zip(a, b)])


def test_attnlrp_matches_lxt_on_the_same_weights(model, lxt_patches, monkeypatch):
    x, targets = pixels(), torch.tensor([0, 1, 2, 3])
    ours = patch_relevance(gradient_x_input(model, AttnLRPRules(model), x, targets).numpy(), GRID)
    theirs = lxt_relevance(model, lxt_patches, monkeypatch, x, targets)
    assert (correlations(ours, theirs) >= LXT_CORRELATION).all(), correlations(ours, theirs)
    # closer than the correlation bar: on tiny random models, leaving out the identity rule on GELU
    # or CP-LRP's constant attention still correlates at 0.9996, but moves patches by 1-3% of the max
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4 * np.abs(theirs).max())
    # the comparison tells rules apart: plain input x gradient (no rules) is not what lxt gives
    plain = patch_relevance(gradient_x_input(model, Layout(model), x, targets).numpy(), GRID)
    assert not np.allclose(plain, theirs, rtol=1e-2, atol=1e-2 * np.abs(theirs).max())


def test_the_method_maps_the_positive_patch_relevance(model):
    x, targets = pixels(), np.array([3, 2, 1, 0])
    cap = capture(model, x, targets)
    ns = 2 if model.config.model_type == "deit" else 1
    relevance = patch_relevance(gradient_x_input(model, AttnLRPRules(model), x, torch.as_tensor(targets)).numpy(), GRID)
    expected = patches_to_grid(np.concatenate([np.zeros((len(x), ns)), relevance], axis=1), GRID, ns)
    np.testing.assert_allclose(METHODS["attnlrp"](cap, GRID, ns), expected, rtol=1e-5, atol=1e-6)


def test_the_rules_keep_the_forward(model):
    """The rules change gradients only: the logits are the model's."""
    x = pixels()
    from xai.vit import walk

    with torch.no_grad():
        np.testing.assert_allclose(walk(model, AttnLRPRules(model), x).logits, model(pixel_values=x).logits, atol=1e-5)
