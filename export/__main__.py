"""`python -m export {onnx,coreml} CHECKPOINT --out DIR [--precision P] [--explain E] [--batch N] [--force]`
`python -m export push ARTIFACT --repo org/name [--image PHOTO] [--bench results.json] [--dry-run DIR]`."""
from __future__ import annotations

import argparse
import sys

from _infra.cli import ArgumentParser, add_common, run_cli, whole_number

from .api import EXPORTERS, export_model
from .config import DEFAULT_EXPLAIN, EXPLAIN_KINDS, PRECISIONS, ExportConfig, cli_fields


PROG = "python -m export"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="format", required=True, metavar="FORMAT",
                                help=f"the artifact's format: {', '.join(EXPORTERS)}")
    for fmt in EXPORTERS:
        p = sub.add_parser(fmt, help=f"export to {fmt}", description=f"Export a checkpoint to {fmt}.")
        p.add_argument("checkpoint", help="finetune output folder, local HF ViT/DeiT checkpoint, or hub id")
        add_common(p, "artifact folder to write (model + manifest.json)",
                   "replace an existing --out that holds an export artifact (never another folder)")
        p.add_argument("--precision", choices=PRECISIONS[fmt], default=None,
                       help=f"weights/compute precision (default: {PRECISIONS[fmt][0]})")
        p.add_argument("--explain", choices=list(EXPLAIN_KINDS), default=DEFAULT_EXPLAIN,
                       help="; ".join(f"{k}: {v}" for k, v in EXPLAIN_KINDS.items()))
        p.add_argument("--batch", type=whole_number(1), default=None,
                       help="fixed batch size (default: dynamic for ONNX, 1 for Core ML)")
        p.add_argument("--parity-images", type=whole_number(1), default=4, help="images for the parity check")
        for f in cli_fields(fmt):
            p.add_argument(f"--{f.name.replace('_', '-')}", default=f.default, help=f.metadata["help"])
    add_push_parser(sub)
    return parser


def add_push_parser(sub) -> None:
    p = sub.add_parser("push", help="upload an artifact to the Hugging Face Hub with a model card",
                       description="Upload an artifact to the Hugging Face Hub with a generated model card.")
    p.add_argument("artifact", help="export artifact folder (verified before anything is sent)")
    p.add_argument("--repo", required=True, help="hub repository id org/name (created when missing)")
    p.add_argument("--image", help="a photo for the card's example heatmap")
    p.add_argument("--bench", help="a python -m bench results.json: the card's accuracy and latency rows")
    p.add_argument("--license", help="the card's license id (e.g. apache-2.0, mit)")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--dry-run", metavar="DIR", help="write the card and picture to DIR and list the files; send nothing")
    p.add_argument("--verbose", action="store_true", help="show other libraries' warnings and logs")


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(argv)
    if args.format == "push":
        return run_cli(lambda: push_command(args), args.verbose)
    cfg = ExportConfig(format=args.format, precision=args.precision, explain=args.explain, batch=args.batch,
                       force=args.force, parity_images=args.parity_images,
                       **{f.name: getattr(args, f.name) for f in cli_fields(args.format)})
    return run_cli(lambda: export_command(args, cfg), args.verbose, extra="export")


def export_command(args, cfg: ExportConfig) -> int:
    manifest = export_model(args.checkpoint, args.out, cfg)
    parity = manifest.parity
    detail = ", ".join(f"{k} {v['max_abs_diff']:.2g}" for k, v in parity.get("outputs", {}).items()
                       if not k.startswith("attention_"))
    print(f"wrote {args.out}/{manifest.model_file} ({manifest.format} {manifest.precision}, explain={manifest.explain})")
    print(f"parity with PyTorch: {parity['status']}" + (f" ({detail})" if detail else f" ({parity.get('reason')})"))
    return 0


def push_command(args) -> int:
    from .push import PushConfig, push

    where = push(args.artifact, PushConfig(repo=args.repo, image=args.image, bench=args.bench, license=args.license,
                                           private=args.private, dry_run=args.dry_run))
    print(f"{'card and picture written to' if args.dry_run else 'pushed:'} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
