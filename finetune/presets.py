"""Architecture presets: named ViT shapes initialised at random, for offline work.

`deit-tiny` and `vit-base` are the seed project's architectures (the configs of
`facebook/deit-tiny-patch16-224` and `google/vit-base-patch16-224`); `cifar-tiny` is a
small ViT for 32 px inputs (8x8 patches of 4 px) that trains on a 2-core CPU; `demo` is tiny, for the
Quickstart and the tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from _infra.registry import add_unique

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Preset:
    """A ViT architecture plus the preprocessing facts its processor carries."""

    name: str
    summary: str
    image_size: int
    patch_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    image_mean: tuple[float, float, float] = HALF
    image_std: tuple[float, float, float] = HALF
    init: str = "hf"  # a name in finetune.init.INITS
    extra: dict = field(default_factory=dict)

    def config_kwargs(self) -> dict:
        """Keyword arguments for `transformers.ViTConfig`."""
        return dict(
            image_size=self.image_size,
            patch_size=self.patch_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            **self.extra,
        )


PRESETS: dict[str, Preset] = {}


def register_preset(preset: Preset) -> Preset:
    return add_unique(PRESETS, preset.name, preset, "preset")


register_preset(Preset("deit-tiny", "DeiT-tiny (facebook/deit-tiny-patch16-224), 224 px, 5.7M params",
                       224, 16, 192, 12, 3, 768, IMAGENET_MEAN, IMAGENET_STD))
register_preset(Preset("vit-base", "ViT-B/16 (google/vit-base-patch16-224), 224 px, 86M params",
                       224, 16, 768, 12, 12, 3072))
register_preset(Preset("cifar-tiny", "ViT for 32 px inputs: patch 4, width 128, 6 layers, 0.8M params",
                       32, 4, 128, 6, 4, 256, init="sincos"))
register_preset(Preset("demo", "tiny ViT for the Quickstart and tests: 32 px, patch 8, 2 layers",
                       32, 8, 64, 2, 2, 128))
