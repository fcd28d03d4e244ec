"""``senmvae data check | split | prepare``: inspect a dataset, make a semi-supervised split, cut patches."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from senmvae.data import SemiSupervisedSet, build_split, load_spec, validate, write_manifest
from senmvae.data.layouts.folders import read_single_folder
from senmvae.data.prepare import PatchOptions, prepare_patches
from senmvae.data.spec import detect_layout
from senmvae.errors import UserError

SPEC_HELP = (
    "dataset: a folder (PolyU, SIDD-Medium, SIDD .mat blocks, DND, AIM19/NTIRE20 SR, clean/ + noisy/ "
    "subfolders), a YAML spec, a split manifest (.json), or 'default' (the embedded dataset)"
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "data",
        help="inspect datasets, make semi-supervised splits, cut patches",
        description="Dataset tools. Layouts, the YAML spec and manifest formats are described in docs/data.md.",
    )
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="report counts, sizes, bit depths, noise levels and every problem file",
        description="Decode every image of SPEC and report, per domain, the count, scenes, sizes, bit depths "
        "and the noise level std(noisy - clean) of pairs, then every problem file with what was done about it. "
        "Exits 1 when the set cannot be trained on.",
    )
    check.add_argument("spec", help=SPEC_HELP)
    check.add_argument("--crop", type=int, default=64, help="training crop size images must reach (default 64)")
    check.set_defaults(func=run_check)

    split = commands.add_parser(
        "split",
        help="turn a paired collection into a semi-supervised split manifest",
        description="N pairs become the paired domain; of the other pairs a held-out part becomes validation "
        "and the rest is halved: clean images of one half are the source domain, noisy images of the other "
        "the target domain. Pairs are grouped by scene so no scene appears in two roles. Writes a JSON "
        "manifest that training and the benchmark read.",
    )
    split.add_argument("spec", help=SPEC_HELP)
    split.add_argument("--paired", type=int, required=True, help="number of paired samples N")
    split.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default 0)")
    split.add_argument(
        "--validation",
        default="0.1",
        help="fraction of scenes held out for validation, or 'rest' for every scene not paired (default 0.1)",
    )
    split.add_argument("--max-unpaired", type=int, default=None, help="cap on each of source and target")
    split.add_argument(
        "--group-by",
        choices=("scene", "image"),
        default="scene",
        help="keep each scene in one role (default), or treat every pair on its own as the paper did for SIDD",
    )
    split.add_argument(
        "--order",
        choices=("random", "sorted"),
        default="random",
        help="seeded shuffle (default), or name order (AIM19/NTIRE20: the first 10 validation pairs)",
    )
    split.add_argument("--crop", type=int, default=64, help="training crop size for the check (default 64)")
    split.add_argument("--no-check", action="store_true", help="skip decoding every image before splitting")
    split.add_argument("-o", "--out", type=Path, default=None, help="manifest path (default split-N<N>-seed<S>.json)")
    split.set_defaults(func=run_split)

    prepare = commands.add_parser(
        "prepare",
        help="cut large images into random patches (resumable)",
        description="Cut every training image of SPEC into random patches (the paper: 300 patches of 256x256 "
        "per SIDD-Medium image) under OUT, with OUT/manifest.json listing them by scene. An interrupted run "
        "continues where it stopped when started again with the same options.",
    )
    prepare.add_argument("spec", help=SPEC_HELP)
    prepare.add_argument("out", type=Path, help="output folder")
    prepare.add_argument("--patch", type=int, default=256, help="patch size (default 256)")
    prepare.add_argument("--per-image", type=int, default=300, help="patches per image (default 300)")
    prepare.add_argument("--seed", type=int, default=0, help="seed of the patch positions (default 0)")
    prepare.set_defaults(func=run_prepare)


def _interactive() -> bool:
    return sys.stderr.isatty()


def _checked_set(spec: str) -> tuple[SemiSupervisedSet, str | None]:
    """The dataset of ``spec``, and a note when it is a folder of loose images: one with no known
    layout, whose images are checked as a source domain (clean images), which is how a YAML spec
    would name them; it cannot be trained on alone (no pairs)."""
    path = Path(spec).expanduser()
    if spec != "default" and path.is_dir() and detect_layout(path) is None:
        images, problems = read_single_folder(path, path.name)
        if images:
            note = (
                f"note: {path} is a folder of images with no known layout, so it holds no pairs; its images are "
                "counted as the source domain (clean images). To train with them, name the folder under 'source' "
                "(clean) or 'target' (noisy) in a YAML spec that also has pairs (docs/data.md)"
            )
            return SemiSupervisedSet(source=images, origin=str(path), problems=problems), note
    return load_spec(spec), None


def run_check(args: argparse.Namespace) -> int:
    dataset, note = _checked_set(args.spec)
    print(dataset.describe())
    logging.getLogger("senmvae.data").disabled = True  # the report lists the skipped files itself
    try:
        report = validate(dataset, args.crop, strict=False, progress=_interactive())
    finally:
        logging.getLogger("senmvae.data").disabled = False
    print(report.render())
    if note:
        print(note)
    return 0 if report.ok else 1


def _validation_arg(text: str) -> float | str:
    if text == "rest":
        return text
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--validation must be a fraction such as 0.1, or 'rest'; got {text!r}") from None


def run_split(args: argparse.Namespace) -> int:
    collection = load_spec(args.spec)
    if not args.no_check:
        collection = validate(collection, args.crop, strict=True, progress=_interactive()).dataset
    validation = _validation_arg(args.validation)
    split = build_split(
        collection,
        args.paired,
        seed=args.seed,
        validation=validation,
        max_unpaired=args.max_unpaired,
        group_by=args.group_by,
        order=args.order,
    )
    out = args.out or Path(f"split-N{args.paired}-seed{args.seed}.json")
    options = {
        "validation": validation,
        "max_unpaired": args.max_unpaired,
        "group_by": args.group_by,
        "order": args.order,
        "dropped_pairs": split.dropped,
    }
    write_manifest(
        out,
        split.dataset,
        source_spec=str(args.spec),
        seed=args.seed,
        paired_count=args.paired,
        scenes=split.scenes,
        options=options,
    )
    print(split.dataset.describe())
    for role in ("paired", "source", "target", "validation"):
        names = split.scenes[role]
        shown = ", ".join(names[:6]) + (f", ... ({len(names)} in all)" if len(names) > 6 else "")
        print(f"  {role} scenes: {shown or '-'}")
    if split.dropped:
        print(f"  {len(split.dropped)} pairs of the paired scenes left out so no scene is shared")
    print(f"wrote {out}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    dataset = load_spec(args.spec)
    options = PatchOptions(patch=args.patch, per_image=args.per_image, seed=args.seed)
    manifest = prepare_patches(dataset, args.out, options, source_spec=str(args.spec), progress=True)
    prepared = load_spec(manifest)
    print(prepared.describe())
    print(f"wrote {manifest}")
    return 0
