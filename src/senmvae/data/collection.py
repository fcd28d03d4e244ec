"""The semi-supervised training set: paired, source (clean only) and target (noisy only) images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from senmvae.data.refs import ImageRef, Pair
from senmvae.domain import Domain


class Action(str, Enum):
    """What a problem does to the dataset (the bad-input policy of docs/data.md)."""

    REFUSE = "refuse"  # the set cannot be trained on until this is fixed
    SKIP = "skip"  # the file (or pair) is left out, with a warning
    NOTE = "note"  # the file is used as it is; worth knowing


@dataclass(frozen=True)
class Problem:
    """One bad input: where it is, what is wrong and what to do, and the policy applied."""

    location: str
    message: str
    action: Action

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class SemiSupervisedSet:
    """The three training domains plus optional validation pairs.

    ``origin`` says where the set came from (for ``describe``); ``problems`` holds what the
    readers found while listing files (missing partners, empty folders, stray files);
    :func:`senmvae.data.validate` adds what decoding the images finds.
    """

    paired: list[Pair] = field(default_factory=list)
    source: list[ImageRef] = field(default_factory=list)
    target: list[ImageRef] = field(default_factory=list)
    validation: list[Pair] = field(default_factory=list)
    origin: str = ""
    problems: list[Problem] = field(default_factory=list)

    def domain(self, domain: Domain) -> list[Pair] | list[ImageRef]:
        return {Domain.PAIRED: self.paired, Domain.SOURCE: self.source, Domain.TARGET: self.target}[domain]

    def refs(self) -> Iterator[ImageRef]:
        """Every image the set names (both sides of pairs)."""
        for pair in (*self.paired, *self.validation):
            yield pair.clean
            yield pair.noisy
        yield from self.source
        yield from self.target

    def describe(self) -> str:
        def line(label: str, items: list) -> str:
            scenes = len({item.scene for item in items})
            return f"  {label:<10} {len(items):>6} {'pairs' if label in ('paired', 'validation') else 'images'}" + (
                f" from {scenes} scene{'s' if scenes != 1 else ''}" if items else ""
            )

        rows = [
            line("paired", self.paired),
            line("source", self.source),
            line("target", self.target),
            line("validation", self.validation),
        ]
        head = f"dataset: {self.origin}" if self.origin else "dataset"
        return "\n".join([head, *rows])

    def extend(self, other: SemiSupervisedSet) -> None:
        self.paired += other.paired
        self.source += other.source
        self.target += other.target
        self.validation += other.validation
        self.problems += other.problems
