"""Print the README's registry tables (presets, export formats, runtime backends), so the README
is generated from the registries rather than kept by hand:  python scripts/readme_tables.py"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export import EXPLAIN_KINDS, PRECISIONS  # noqa: E402
from export.parity import TOLERANCES  # noqa: E402
from finetune import PRESETS  # noqa: E402
from finetune.pipeline import PIPELINES  # noqa: E402
from finetune.precision import PRECISIONS as TRAIN_PRECISIONS  # noqa: E402
from runtime import BACKENDS  # noqa: E402
from xai.methods import METHODS  # noqa: E402
from xai.metrics import METRICS  # noqa: E402


def main() -> None:
    print("| preset | image | patch | width | layers | heads | MLP | init | what |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for p in PRESETS.values():
        print(f"| `{p.name}` | {p.image_size} | {p.patch_size} | {p.hidden_size} | {p.num_hidden_layers} | "
              f"{p.num_attention_heads} | {p.intermediate_size} | `{p.init}` | {p.summary} |")
    print("\n| `--precision` (finetune) | what | may be asked for on |\n| --- | --- | --- |")
    for p in TRAIN_PRECISIONS.values():
        print(f"| `{p.name}` | {p.summary} | {p.requirement} |")
    print("\n| `--input-pipeline` (finetune) | what |\n| --- | --- |")
    for name, summary in PIPELINES.items():
        print(f"| `{name}` | {summary} |")
    print("\n| format | precisions (first = default) | explain kinds |\n| --- | --- | --- |")
    for fmt, precisions in PRECISIONS.items():
        print(f"| `{fmt}` | {', '.join(precisions)} | {', '.join(EXPLAIN_KINDS)} |")
    print("\n| precision | logits (relative) | probs | rollout | attention | relevance |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for precision, t in TOLERANCES.items():
        print(f"| {precision} | {t['logits']:g} | {t['probs']:g} | {t['rollout']:g} | {t['attention']:g} | {t['relevance']:g} |")
    print("\n| backend | runs | where |\n| --- | --- | --- |")
    for name, cls in BACKENDS.items():
        print(f"| `{name}` | {', '.join(cls.formats)} | {(cls.__doc__ or '').strip().splitlines()[0]} |")
    print("\n| method | what | gradients | paper |\n| --- | --- | --- | --- |")
    for m in METHODS.values():
        print(f"| `{m.name}` | {m.summary} | {'yes' if m.gradients else 'no'} | {m.paper or '-'} |")
    print("\n| metric | better | what |\n| --- | --- | --- |")
    for m in METRICS.values():
        print(f"| `{m.name}` | {m.better} | {m.summary} |")


if __name__ == "__main__":
    main()
