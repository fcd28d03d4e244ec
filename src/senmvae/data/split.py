"""The semi-supervised split of the paper (section 4.1), grouped by scene.

From a paired collection: N pairs form the paired domain; of the remaining pairs a held-out
part becomes validation, and the rest is divided in two halves, the clean images of the first
becoming the source domain and the noisy images of the second the target domain. Pairs are
grouped (by scene by default) and each group goes to one role only, so no scene leaks between
paired, unpaired and validation data; the pairs of the paired groups that are not among the N
are dropped rather than reused. Unpaired images the collection already has (the SR layouts'
training folders) are added to source and target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from senmvae.data.collection import SemiSupervisedSet
from senmvae.data.refs import ImageRef, Pair
from senmvae.errors import UserError

GroupBy = Literal["scene", "image"]
Order = Literal["random", "sorted"]


@dataclass
class Split:
    dataset: SemiSupervisedSet
    scenes: dict[str, list[str]]
    dropped: list[str]  # names of pairs left out to keep scenes apart


def build_split(
    collection: SemiSupervisedSet,
    paired: int,
    *,
    seed: int = 0,
    validation: float | Literal["rest"] = 0.1,
    max_unpaired: int | None = None,
    group_by: GroupBy = "scene",
    order: Order = "random",
) -> Split:
    """Split ``collection.paired`` into paired / source / target / validation.

    ``validation``: the fraction of groups held out (at least one group when positive), or
    ``"rest"`` for every group not paired (the AIM19/NTIRE20 protocol: the first 10 pairs train,
    the other 90 evaluate). ``order="sorted"`` takes groups in name order instead of a seeded
    shuffle. ``max_unpaired`` caps each of source and target.
    """
    if paired < 1:
        raise UserError(f"--paired must be at least 1, got {paired}")
    if validation != "rest" and not 0.0 <= float(validation) < 1.0:
        raise UserError(f"--validation must be a fraction in [0, 1) or 'rest', got {validation}")
    if max_unpaired is not None and max_unpaired < 0:
        raise UserError(f"--max-unpaired must be >= 0, got {max_unpaired}")
    held_scenes = {pair.scene for pair in collection.validation}
    pool = [pair for pair in collection.paired if pair.scene not in held_scenes]
    if paired > len(pool):
        raise UserError(
            f"asked for {paired} paired samples but {collection.origin or 'the collection'} has {len(pool)} usable "
            "pairs; lower --paired, or run 'senmvae data prepare' first to cut the images into patches"
        )
    groups: dict[str, list[Pair]] = {}
    for pair in sorted(pool, key=lambda p: p.name):
        groups.setdefault(pair.scene if group_by == "scene" else pair.name, []).append(pair)
    rng = np.random.default_rng(seed)
    keys = sorted(groups)
    if order == "random":
        keys = [keys[i] for i in rng.permutation(len(keys))]

    taken = 0
    paired_keys: list[str] = []
    while taken < paired:
        paired_keys.append(keys[len(paired_keys)])
        taken += len(groups[paired_keys[-1]])
    candidates = [pair for key in paired_keys for pair in groups[key]]
    if order == "random":
        candidates = [candidates[i] for i in rng.permutation(len(candidates))]
    chosen, dropped = candidates[:paired], candidates[paired:]

    rest = keys[len(paired_keys) :]
    if validation == "rest":
        validation_keys, rest = rest, []
    else:
        count = max(1, round(float(validation) * len(keys))) if validation > 0 else 0
        count = min(count, len(rest))
        validation_keys, rest = rest[len(rest) - count :], rest[: len(rest) - count]

    halves: tuple[list[str], list[str]] = ([], [])
    sizes = [0, 0]
    for key in rest:
        side = 0 if sizes[0] <= sizes[1] else 1
        halves[side].append(key)
        sizes[side] += len(groups[key])
    source = [pair.clean for key in halves[0] for pair in groups[key]] + collection.source
    target = [pair.noisy for key in halves[1] for pair in groups[key]] + collection.target

    dataset = SemiSupervisedSet(
        paired=sorted(chosen, key=lambda p: p.name),
        source=_capped(source, max_unpaired, rng, order),
        target=_capped(target, max_unpaired, rng, order),
        validation=collection.validation + [pair for key in validation_keys for pair in groups[key]],
        origin=f"split of {collection.origin}" if collection.origin else "split",
        problems=list(collection.problems),
    )
    scenes = {
        domain: sorted({item.scene for item in getattr(dataset, domain)})
        for domain in ("paired", "source", "target", "validation")
    }
    scenes["dropped"] = sorted({pair.scene for pair in dropped})
    return Split(dataset, scenes, sorted(pair.name for pair in dropped))


def _capped(items: list[ImageRef], cap: int | None, rng: np.random.Generator, order: Order) -> list[ImageRef]:
    if cap is None or len(items) <= cap:
        return items
    if order == "sorted":
        return items[:cap]
    keep = np.sort(rng.choice(len(items), size=cap, replace=False))
    return [items[i] for i in keep]
