"""`evit STAGE ...`: every stage of the toolkit under one command, with the same parsers as
`python -m STAGE` (which stay): `evit finetune ...`, `evit export onnx|coreml ...`, `evit runtime
predict|compare|serve ...`, `evit bench ...`, `evit xai eval ...`, and `evit demo --out DIR` (the
offline demo). `evit STAGE --help` for each one."""
from __future__ import annotations

import importlib
import sys

from _infra.cli import did_you_mean

PROG = "evit"
STAGES = {  # subcommand -> (module whose main(argv, prog) runs it, one line for `evit --help`)
    "finetune": ("finetune.__main__", "fine-tune a Hugging Face ViT/DeiT classifier (needs the [train] extra)"),
    "export": ("export.__main__", "export a checkpoint to ONNX or Core ML with its explanation in the graph ([export])"),
    "runtime": ("runtime.__main__", "predict, explain and compare with an exported artifact (the base install)"),
    "bench": ("bench.__main__", "every backend and precision against PyTorch; named scenarios ([bench])"),
    "xai": ("xai.__main__", "score explanation methods: faithfulness, localization, sanity ([train])"),
    "demo": ("evit.demo", "offline: fine-tune on digits, export, predict and explain, score, bench ([bench])"),
}


def overview() -> str:
    width = max(map(len, STAGES))
    lines = [f"usage: {PROG} STAGE [options]   ({PROG} STAGE --help for each stage's options)", "", __doc__.strip(),
             "", "stages:"]
    lines += [f"  {name:{width}s}  {summary}" for name, (_, summary) in STAGES.items()]
    return "\n".join(lines) + "\n"


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return f"{PROG} {installed('explainable-vit')}"
    except PackageNotFoundError:  # run from a clone that was never installed
        return f"{PROG} (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(overview(), end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(version())
        return 0
    if argv[0] not in STAGES:
        print(f"{PROG}: error: unknown stage '{argv[0]}'{did_you_mean(argv[0], STAGES)}; "
              f"choose from {', '.join(STAGES)} (see '{PROG} --help')", file=sys.stderr)
        return 2
    module, _ = STAGES[argv[0]]
    stage = importlib.import_module(module)
    return stage.main(argv[1:], prog=f"{PROG} {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
