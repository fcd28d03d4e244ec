"""Pretrained SeNM-VAE models that ship with the package, trained by this project's own code.

``base``: the content path and a generic camera-noise path, learned from clean photos
(Kodak24, McMaster, CBSD68, BSDS500) through the camera simulator with camera profiles that
the embedded demo set does not use, then the training scenes of PolyU, RENOIR and Nam.
``polyu``, ``renoir``, ``nam``: ``base`` fine-tuned on the training scenes of that set.
Each has a model card beside it (``NAME.md``): data and their licences, steps, minutes,
machine, and metrics on scenes it never saw.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from senmvae.errors import UserError

PRETRAINED = ("base", "polyu", "renoir", "nam")


def pretrained_path(name: str) -> Path:
    """The weight file of the shipped model ``name``."""
    if name not in PRETRAINED:
        raise UserError(f"unknown pretrained model {name!r}; choose one of {', '.join(PRETRAINED)}")
    path = Path(str(resources.files(__package__).joinpath(f"{name}.safetensors")))
    if not path.is_file():
        raise UserError(
            f"the pretrained model {name!r} is not part of this install ({path} is missing); reinstall senmvae"
        )
    return path


def model_card(name: str) -> str:
    """The model card (markdown) of the shipped model ``name``."""
    pretrained_path(name)
    return resources.files(__package__).joinpath(f"{name}.md").read_text()
