"""Checks both benchmarks run on their data and settings before any model trains, so that
nothing that can be known up front fails after minutes of training."""

from __future__ import annotations

from collections.abc import Iterable

from senmvae.errors import UserError


def require_evaluation_pairs(count: int, needed: int, origin: str, why: str, advice: str) -> None:
    """Refuse an evaluation set of fewer than ``needed`` pairs; ``why`` says what needs them."""
    if count < needed:
        raise UserError(
            f"the evaluation set ({origin}) holds {count} pair{'' if count == 1 else 's'}, fewer than the {needed} "
            f"{why}; {advice}"
        )


def require_crop_fits(sizes: Iterable[tuple[int, int]], crop: int, setting: str, images: str) -> None:
    """Refuse a training crop larger than any of ``sizes`` ((width, height) of the images it is cut
    from): the first batch that drew such an image would fail after the earlier stages ran."""
    small = [size for size in sizes if min(size) < crop]
    if small:
        width, height = min(small, key=min)
        raise UserError(
            f"{setting} is {crop}, larger than {len(small)} of {images}, the smallest {width}x{height}; "
            f"set {setting} to at most {min(width, height)} (--set {setting}=N), or remove the small images"
        )


def load_metric_weights(inception_weights: str | None, lpips_backbone: str | None, lpips_linear: str | None) -> None:
    """Read the weight files of the optional metrics once, so that a missing or foreign file is
    refused now rather than when the metrics are computed after training."""
    if inception_weights:
        from senmvae.features.inception import load_fid_inception

        load_fid_inception(inception_weights)
    if lpips_backbone and lpips_linear:
        from senmvae.features.perceptual import LPIPS

        LPIPS.from_files(lpips_backbone, lpips_linear)
