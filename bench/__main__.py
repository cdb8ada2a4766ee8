"""`python -m bench CHECKPOINT --data DATA --out DIR [--targets A,B] [--limit N] [--min-accuracy A]`
`python -m bench scenario NAME [options]`: a named benchmark scenario (bench/scenarios/)."""
from __future__ import annotations

import argparse
import sys

from _infra.cli import VERBOSE_HELP, ArgumentParser, CommaList, add_common, fraction, named_or_path, run_cli

from .run import TARGETS, device_section, format_table, run_bench


PROG = "python -m bench"


def scenario_parser(found: dict, prog: str = PROG) -> argparse.ArgumentParser:
    """`bench scenario NAME`: one subcommand per scenario module, with its own options."""
    from .scenarios import RESULTS

    parser = ArgumentParser(prog=f"{prog} scenario", description=__doc__)
    sub = parser.add_subparsers(dest="name", required=True, metavar="NAME", help=f"one of: {', '.join(found)}")
    for name, module in found.items():
        p = sub.add_parser(name, help=module.SUMMARY, description=module.SUMMARY)
        p.add_argument("--results", default=str(RESULTS), help="folder for NAME.json (default: %(default)s)")
        p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
        module.add_arguments(p)
    return parser


def scenario_main(argv: list[str], prog: str = PROG) -> int:
    """`python -m bench scenario NAME ...`: run one scenario, write its JSON, print its table."""
    from .scenarios import scenarios

    found = scenarios()
    args = scenario_parser(found, prog).parse_args(argv)
    return run_cli(lambda: run_scenario(found[args.name], args), args.verbose, extra="bench")


def run_scenario(module, args) -> int:
    from .scenarios import format_rows, write_results

    results = module.run(args)
    results["header"] = {"scenario": args.name, **results.get("header", {})}
    print(format_rows(results["rows"]))
    print(f"\nwrote {write_results(results.pop('name', args.name), results, args.results)}")
    return 0


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from finetune.data import BUILTIN_DATA

    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("checkpoint", help="a finetune output folder or local ViT/DeiT checkpoint, or a preset "
                                           "name (random weights, for latency tables)")
    parser.add_argument("--data", required=True, type=named_or_path(list(BUILTIN_DATA), "data"),
                        help="dataset with a test split (as for finetune)")
    add_common(parser, "folder for results.json, report.md and the plots", RESULT_FORCE_HELP)
    parser.add_argument("--targets", action=CommaList, known=TARGETS, default=None,
                        help=f"rows to run, comma list (default: all): {', '.join(TARGETS)}")
    parser.add_argument("--limit", type=int, default=None, help="first N test images (default: all)")
    parser.add_argument("--batch", type=int, default=32, help="batch size for accuracy and throughput")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-target peak-memory probes")
    parser.add_argument("--min-accuracy", type=fraction, default=None,
                        help="fail when any working row is below (0..1)")
    parser.add_argument("--device-results", action=CommaList, default=[], metavar="JSON,JSON",
                        help="rows measured on an Apple device (explainable-vit-bench --json), shown in the "
                             "report beside this machine's rows")
    parser.add_argument("--keep-going", action="store_true",
                        help="exit 0 even when some targets failed (their rows say why)")
    return parser


RESULT_FORCE_HELP = ("replace an existing --out that bench wrote (it does so without the flag too: a result "
                     "folder is rewritten whole; a folder the toolkit did not write is never replaced)")


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scenario"]:
        return scenario_main(argv[1:], prog)
    args = build_parser(prog).parse_args(argv)
    return run_cli(lambda: bench_command(args), args.verbose, extra="bench")


def bench_command(args) -> int:
    from .device_rows import read_device_rows

    device = [row for path in args.device_results for row in read_device_rows(path)]  # refused before any work
    rows = run_bench(args.checkpoint, args.data, args.targets, args.limit, args.batch, args.out,
                     memory=not args.no_memory, device_rows=device)
    print(format_table([r for r in rows if "imported_from" not in r]))
    print(device_section(rows), end="")
    print(f"\nwrote {args.out}/results.json and {args.out}/report.md")
    return exit_status(rows, args.min_accuracy, args.keep_going)


def exit_status(rows: list[dict], min_accuracy: float | None, keep_going: bool) -> int:
    """1 when a target failed (unless keep_going) or a working row is below min_accuracy, else 0."""
    failed = [r["target"] for r in rows if r["status"].startswith("failed")]
    low = [r["target"] for r in rows if "accuracy" in r and min_accuracy is not None and r["accuracy"] < min_accuracy]
    if failed and not keep_going:
        print(f"failed targets (pass --keep-going to accept): {', '.join(failed)}", file=sys.stderr)
    if low:
        print(f"below --min-accuracy {min_accuracy}: {', '.join(low)}", file=sys.stderr)
    if min_accuracy is not None and not any("accuracy" in r for r in rows):
        print(f"--min-accuracy {min_accuracy}: no target produced an accuracy", file=sys.stderr)
        return 1
    return 1 if (failed and not keep_going) or low else 0


if __name__ == "__main__":
    sys.exit(main())
