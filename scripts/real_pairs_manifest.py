"""A training manifest of real camera-noise pairs outside the benchmark's held-out scenes.

    python scripts/real_pairs_manifest.py OUT.json ../shared/data/polyu ../shared/data/renoir \
        --photos ../shared/data/clean/Kodak24 ../shared/data/clean/McMaster

Paired: every pair of each set whose scene is not held out by ``senmvae benchmark``'s split
(``senmvae.evaluation.fidelity.training_pairs``), so models trained on it can be scored on the
held-out scenes. Source (clean-only): every image of each ``--photos`` folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from senmvae.data import SemiSupervisedSet, write_manifest
from senmvae.data.refs import FileImage
from senmvae.data.simulated import photo_files
from senmvae.evaluation.fidelity import training_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("sets", nargs="+", help="real pair sets (PolyU, RENOIR, Nam, ... folders)")
    parser.add_argument("--photos", nargs="*", default=[], help="folders of clean photos for the source domain")
    args = parser.parse_args()
    paired = []
    for data in args.sets:
        pairs = training_pairs(data)
        print(f"{data}: {len(pairs)} training pairs")
        paired += pairs
    source = []
    for folder in args.photos:
        root = Path(folder)
        files = photo_files(root)
        source += [FileImage(f"{root.name}/{f.stem}", f"{root.name}/{f.stem}", f) for f in files]
        print(f"{folder}: {len(files)} clean photos")
    origin = "training scenes of " + ", ".join(args.sets)
    dataset = SemiSupervisedSet(paired=paired, source=source, origin=origin)
    write_manifest(args.out, dataset, source_spec=" + ".join(args.sets), seed=0, paired_count=len(paired))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
