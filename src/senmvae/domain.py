"""The three kinds of training sample SeNM-VAE learns from."""

from __future__ import annotations

from enum import IntEnum


class Domain(IntEnum):
    """Which images a training sample carries.

    PAIRED: a clean image and its noisy partner. SOURCE: a clean image only.
    TARGET: a noisy image only. Batches carry a ``domain`` tensor of these values.
    """

    PAIRED = 0
    SOURCE = 1
    TARGET = 2

    @property
    def has_clean(self) -> bool:
        return self is not Domain.TARGET

    @property
    def has_noisy(self) -> bool:
        return self is not Domain.SOURCE
