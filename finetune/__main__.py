"""`python -m finetune --model MODEL --data DATA --out DIR [...]`: flags are FinetuneConfig's fields."""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import MISSING

from _infra.cli import VERBOSE_HELP, ArgumentParser, named_or_path, run_cli
from _infra.processes import close_process_group

from .config import CONFIG_FIELDS, FinetuneConfig
from .presets import PRESETS


PROG = "python -m finetune"
FLAG_OF = {"overwrite": ("--force", "--overwrite")}  # one vocabulary: --force everywhere, --overwrite kept


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """One flag per FinetuneConfig field (builds without torch: `--help` answers at once)."""
    from .data import BUILTIN_DATA

    presets = "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values())
    parser = ArgumentParser(prog=prog, description=__doc__, epilog=f"presets: {presets}")
    for name, f in CONFIG_FIELDS.items():
        flags, meta = FLAG_OF.get(name, ("--" + name.replace("_", "-"),)), dict(f.metadata)
        kind = f.type if isinstance(f.type, type) else str(f.type)
        if kind in (bool, "bool"):
            boolean = argparse.BooleanOptionalAction if f.default else "store_true"
            parser.add_argument(*flags, dest=name, action=boolean, default=f.default, help=meta["help"])
            continue
        cast = {"int": int, "float": float, "int | None": int}.get(kind if isinstance(kind, str) else "", str)
        if name == "data":
            cast = named_or_path(list(BUILTIN_DATA), "data")
        parser.add_argument(*flags, dest=name, type=cast, default=None if f.default is MISSING else f.default,
                            help=meta["help"], required=meta.get("required", False), choices=meta.get("choices"))
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    return parser


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = vars(build_parser(prog).parse_args(argv))
    verbose = args.pop("verbose")
    command = shlex.join([*prog.split(), *argv])
    return run_cli(lambda: finetune_command(FinetuneConfig(**args), command), verbose, extra="train")


def finetune_command(cfg: FinetuneConfig, command: str = "python -m finetune ...") -> int:
    """Run `cfg`; on Ctrl-C say where the interrupted run is and the command (`command` + --resume)
    that continues it."""
    from .outputs import interrupted_advice
    from .train import RunInterrupted, finetune

    try:
        result = finetune(cfg)
        close_process_group()
    except RunInterrupted as e:
        print(f"\n{interrupted_advice(e.plan, command)}", file=sys.stderr)
        return 130
    m = result.metrics
    if m:
        print(f"test accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  loss {m['loss']:.4f}  "
              f"({m['n_test']} images, {m['train_wall_s']:.0f} s training)")
        print(f"checkpoint and processor: {result.out}/")
        print(f"metrics: {result.out}/metrics.json  pictures: {result.out}/confusion_matrix.png, "
              f"{result.out}/training_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
