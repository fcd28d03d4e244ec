"""Finding every bad input before training starts (the policy table is in docs/data.md).

:func:`validate` decodes every image once, applies the bad-input policy (refuse the dataset,
skip the file with a warning, or use it with a note) and returns a :class:`Report` whose
``dataset`` holds only usable images, plus per-domain statistics for ``senmvae data check``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.io import ImageInfo, ImageReadError
from senmvae.data.refs import ImageRef, Pair
from senmvae.errors import UserError
from senmvae.noise_level import noise_level_of_arrays
from senmvae.progress import progress_bar

log = logging.getLogger("senmvae.data")

GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "LA;16", "F"}
ALPHA_MODES = {"RGBA", "RGBA;16", "LA", "PA"}
DOMAINS = ("paired", "source", "target", "validation")


@dataclass
class DomainStats:
    count: int = 0
    scenes: set[str] = field(default_factory=set)
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    bit_depths: Counter = field(default_factory=Counter)
    noise_std: list[float] = field(default_factory=list)  # std(noisy - clean) per pair, [0, 1] scale

    def size_text(self) -> str:
        if not self.sizes:
            return "-"
        if len(self.sizes) == 1:
            (w, h), _ = self.sizes.most_common(1)[0]
            return f"{w}x{h}"
        areas = sorted(self.sizes, key=lambda s: s[0] * s[1])
        return f"{areas[0][0]}x{areas[0][1]} .. {areas[-1][0]}x{areas[-1][1]} ({len(self.sizes)} sizes)"

    def depth_text(self) -> str:
        names = {8: "8", 16: "16", 32: "float", 1: "1"}
        return "/".join(names.get(d, str(d)) for d in sorted(self.bit_depths)) or "-"

    def noise_text(self) -> str:
        if not self.noise_std:
            return "-"
        values = np.asarray(self.noise_std) * 255.0
        return f"{values.mean():.2f} (min {values.min():.2f}, max {values.max():.2f})"


@dataclass
class Report:
    dataset: SemiSupervisedSet  # the usable images only
    crop: int
    problems: list[Problem]
    stats: dict[str, DomainStats]

    def by_action(self, action: Action) -> list[Problem]:
        return [p for p in self.problems if p.action is action]

    @property
    def ok(self) -> bool:
        return not self.by_action(Action.REFUSE)

    def render(self) -> str:
        width = 2 + max(len("sizes"), *(len(self.stats[domain].size_text()) for domain in DOMAINS))
        lines = [
            f"{'domain':<11}{'count':>7}{'scenes':>8}  {'sizes':<{width}}{'bits':<8}noise std (8-bit units)",
        ]
        for domain in DOMAINS:
            s = self.stats[domain]
            lines.append(
                f"{domain:<11}{s.count:>7}{len(s.scenes):>8}  {s.size_text():<{width}}{s.depth_text():<8}"
                f"{s.noise_text()}"
            )
        labels = {Action.REFUSE: "REFUSED", Action.SKIP: "SKIPPED", Action.NOTE: "NOTE"}
        if self.problems:
            refused, skipped, notes = (len(self.by_action(a)) for a in Action)
            counts = f"{refused} refused, {skipped} skipped, {notes} note{'' if notes == 1 else 's'}"
            lines.append(f"problems ({counts}):")
            for action in Action:
                lines += [f"  {labels[action]:<8} {p}" for p in self.by_action(action)]
        else:
            lines.append("problems: none")
        if self.ok:
            lines.append(f"result: can be trained on with {self.crop}x{self.crop} crops")
        else:
            lines.append("result: CANNOT be trained on; fix the REFUSED problems above")
        return "\n".join(lines)


def _message(err: ImageReadError, ref: ImageRef) -> str:
    """The reader's message without its leading ``path: `` (the problem names the location)."""
    text = str(err)
    for prefix in (f"{ref.location}: ", f"{getattr(ref, 'path', '')}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class _Inspector:
    """Decodes each image once and records its problems."""

    def __init__(self, crop: int, problems: list[Problem]):
        self.crop = crop
        self.problems = problems

    def image(self, ref: ImageRef, training: bool) -> tuple[np.ndarray | None, ImageInfo | None]:
        """The decoded image and its info, or (None, None) when it is left out."""
        try:
            image, info = ref.load_with_info()
        except ImageReadError as err:
            self._add(ref, f"{_message(err, ref)} (left out)", Action.SKIP)
            return None, None
        if info.mode in GRAY_MODES:
            self._add(
                ref,
                "is grayscale; SeNM-VAE learns colour camera noise, so it is left out. Use colour images",
                Action.SKIP,
            )
            return None, None
        if info.mode in ALPHA_MODES:
            self._add(ref, "has an alpha channel; it is dropped and the colour channels used", Action.NOTE)
        elif info.mode == "P":
            self._add(
                ref,
                "is a palette image, expanded to RGB; its colours are quantised, so re-export it as RGB PNG/TIFF "
                "if it is a noisy image",
                Action.NOTE,
            )
        if training and (info.width < self.crop or info.height < self.crop):
            self._add(
                ref,
                f"is {info.width}x{info.height}, smaller than the {self.crop}x{self.crop} crop; left out. "
                "Use a smaller crop (or patch) size, or remove it",
                Action.SKIP,
            )
            return None, None
        return image, info

    def _add(self, ref: ImageRef, message: str, action: Action) -> None:
        problem = Problem(ref.location, message, action)
        if problem not in self.problems:
            self.problems.append(problem)


def validate(dataset: SemiSupervisedSet, crop: int = 64, *, strict: bool = True, progress: bool = True) -> Report:
    """Decode every image of ``dataset``; raise :class:`UserError` listing every refused problem
    when ``strict`` (training start-up), else return the report with ``ok`` false (``data check``).

    Skipped files are left out of ``report.dataset`` and counted in a logged warning.
    """
    if crop < 1:
        raise UserError(f"crop must be a positive size, got {crop}")
    problems = list(dataset.problems)
    inspector = _Inspector(crop, problems)
    stats = {domain: DomainStats() for domain in DOMAINS}
    usable = SemiSupervisedSet(origin=dataset.origin)
    total = 2 * (len(dataset.paired) + len(dataset.validation)) + len(dataset.source) + len(dataset.target)
    bar = progress_bar(total=total, desc="checking images", unit="img", disable=not progress, leave=False)

    def record(domain: str, info: ImageInfo, scene: str) -> None:
        s = stats[domain]
        s.scenes.add(scene)
        s.sizes[(info.width, info.height)] += 1
        s.bit_depths[info.bit_depth] += 1

    def check_pair(pair: Pair, domain: str) -> bool:
        training = domain != "validation"
        clean, clean_info = inspector.image(pair.clean, training)
        noisy, noisy_info = inspector.image(pair.noisy, training)
        bar.update(2)
        if clean is None or noisy is None:
            return False
        if clean.shape != noisy.shape:
            problems.append(
                Problem(
                    pair.noisy.location,
                    f"is {noisy_info.width}x{noisy_info.height} but its clean partner {pair.clean.location} is "
                    f"{clean_info.width}x{clean_info.height}; a pair must align pixel for pixel. Check that it is "
                    "the right partner, or crop both to the same region",
                    Action.REFUSE,
                )
            )
            return False
        record(domain, clean_info, pair.scene)
        record(domain, noisy_info, pair.scene)
        stats[domain].noise_std.append(noise_level_of_arrays(noisy, clean))
        stats[domain].count += 1
        return True

    def check_single(ref: ImageRef, domain: str) -> bool:
        image, info = inspector.image(ref, training=True)
        bar.update(1)
        if image is None:
            return False
        record(domain, info, ref.scene)
        stats[domain].count += 1
        return True

    try:
        usable.paired = [pair for pair in dataset.paired if check_pair(pair, "paired")]
        usable.source = [ref for ref in dataset.source if check_single(ref, "source")]
        usable.target = [ref for ref in dataset.target if check_single(ref, "target")]
        usable.validation = [pair for pair in dataset.validation if check_pair(pair, "validation")]
    finally:
        bar.close()

    where = dataset.origin or "the dataset"
    if not usable.paired:
        problems.append(
            Problem(
                where,
                "has no usable (clean, noisy) pair; SeNM-VAE needs at least one. Add pairs to the 'paired' domain",
                Action.REFUSE,
            )
        )
    for domain in ("source", "target", "validation"):
        if getattr(dataset, domain) and not getattr(usable, domain):
            problems.append(
                Problem(
                    where,
                    f"every image of the {domain} domain was left out (see the problems above); fix them or "
                    f"remove the {domain} entry",
                    Action.REFUSE,
                )
            )
    usable.problems = problems
    report = Report(usable, crop, problems, stats)
    skipped = report.by_action(Action.SKIP)
    if skipped:
        log.warning("%d file(s) left out of %s:\n%s", len(skipped), where, "\n".join(f"  {p}" for p in skipped))
    if strict and not report.ok:
        refused = report.by_action(Action.REFUSE)
        raise UserError(
            f"{where} cannot be trained on ({len(refused)} problem{'s' if len(refused) > 1 else ''}; "
            "run 'senmvae data check' for the full report):\n" + "\n".join(f"  - {p}" for p in refused)
        )
    return report
