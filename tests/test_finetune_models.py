"""Model sources: presets, local ViT/DeiT checkpoints and hub ids go through one from_pretrained path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import save_tiny_checkpoint

from finetune.errors import ModelSourceError
from finetune.models import load_model
from finetune.presets import PRESETS

EXPECTED_PARAMS_M = {"deit-tiny": 5.7, "vit-base": 86.6, "cifar-tiny": 0.81, "demo": 0.081}
NEW_LABELS = ["a", "b", "c"]


def test_every_preset_has_an_expected_size():
    assert set(EXPECTED_PARAMS_M) == set(PRESETS), "a new preset needs an entry in EXPECTED_PARAMS_M"


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_builds_through_from_pretrained(name):
    model, processor = load_model(name, NEW_LABELS)
    preset = PRESETS[name]
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    assert params_m == pytest.approx(EXPECTED_PARAMS_M[name], rel=0.05)
    assert model.config.image_size == preset.image_size and model.config.patch_size == preset.patch_size
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    assert list(processor.image_mean) == pytest.approx(list(preset.image_mean))


@pytest.mark.parametrize("kind", ["vit", "deit"])
def test_local_checkpoint_gets_a_new_head(tiny_vit, tiny_deit, kind):
    folder = {"vit": tiny_vit, "deit": tiny_deit}[kind]
    model, _ = load_model(str(folder), NEW_LABELS)
    assert model.config.model_type == kind
    assert model.classifier.out_features == 3
    out = model(pixel_values=torch.randn(2, 3, 32, 32)).logits
    assert out.shape == (2, 3)


def test_backbone_weights_survive_loading(tiny_vit):
    from safetensors.torch import load_file

    saved = load_file(str(tiny_vit / "model.safetensors"))
    model, _ = load_model(str(tiny_vit), NEW_LABELS)
    key = "vit.encoder.layer.0.attention.attention.query.weight"
    assert torch.equal(model.state_dict()[key], saved[key])


def test_not_an_image_classifier_is_refused(tmp_path):
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)).save_pretrained(tmp_path)
    with pytest.raises(ModelSourceError, match="not an image classifier"):
        load_model(str(tmp_path), NEW_LABELS)


def test_other_model_type_is_refused(tmp_path):
    from transformers import ResNetConfig, ResNetForImageClassification

    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1])).save_pretrained(tmp_path)
    with pytest.raises(ModelSourceError, match="supported model types: vit, deit"):
        load_model(str(tmp_path), NEW_LABELS)


def test_missing_folder_and_offline_hub_id(tmp_path):
    with pytest.raises(ModelSourceError, match="does not exist"):
        load_model(str(tmp_path / "nope"), NEW_LABELS)
    with pytest.raises(ModelSourceError, match="Hugging Face hub.*preset"):
        load_model("facebook/deit-tiny-patch16-224", NEW_LABELS)


def test_distilled_deit_checkpoint_loads_as_a_trainable_classifier(tmp_path):
    folder = save_tiny_checkpoint(tmp_path / "distilled", "deit", distilled=True)
    model, _ = load_model(str(folder), NEW_LABELS)
    assert model.config.model_type == "deit"
    assert model(pixel_values=torch.randn(1, 3, 32, 32)).logits.shape == (1, 3)


def test_sincos_table_encodes_row_then_column():
    from finetune.init import sincos_2d

    table = sincos_2d(3, 4, 16).reshape(3, 4, 16)
    rows, cols = table[..., :8], table[..., 8:]
    assert (rows == rows[:, :1]).all() and (cols == cols[:1]).all()  # each half ignores the other axis
    assert not (rows[0] == rows[1]).all() and not (cols[:, 0] == cols[:, 1]).all()
    # sin^2 + cos^2 = 1 for every frequency: each half has norm sqrt(dim / 4)
    assert (table ** 2).sum(-1) == pytest.approx(np.full((3, 4), 8.0), abs=1e-5)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(2, 2, 6)


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.init != "hf"])
def test_preset_initialisation_survives_from_pretrained(name):
    from finetune.init import sincos_2d

    model, _ = load_model(name, NEW_LABELS)
    config, position = model.config, model.vit.embeddings.position_embeddings[0].detach().numpy()
    grid = config.image_size // config.patch_size
    assert position[0] == pytest.approx(np.zeros(config.hidden_size))  # CLS
    assert position[1:] == pytest.approx(sincos_2d(grid, grid, config.hidden_size))
    assert (model.classifier.weight == 0).all() and (model.classifier.bias == 0).all()
    other, _ = load_model(name, NEW_LABELS, seed=1)  # the seed still draws the other weights
    assert not torch.equal(other.vit.encoder.layer[0].attention.attention.query.weight,
                           model.vit.encoder.layer[0].attention.attention.query.weight)
