"""Datasets: readers of the published layouts, semi-supervised splits, validation, training samples.

``load_spec`` turns a SPEC (dataset folder, YAML spec, split manifest or ``default``) into a
:class:`SemiSupervisedSet`; ``validate`` finds every bad input before training;
``MixedDomainDataset`` + ``StepBatchSampler`` feed training. docs/data.md describes the layouts,
the spec and manifest formats and the bad-input policy.
"""

from senmvae.data.collection import Action, Problem, SemiSupervisedSet
from senmvae.data.manifest import Manifest, read_manifest, write_manifest
from senmvae.data.refs import BicubicImage, DndBoxImage, FileImage, ImageRef, MatBlockImage, Pair
from senmvae.data.sampler import MixedDomainDataset, StepBatchSampler
from senmvae.data.spec import detect_layout, load_spec
from senmvae.data.split import Split, build_split
from senmvae.data.validate import Report, validate

__all__ = [
    "Action",
    "BicubicImage",
    "DndBoxImage",
    "FileImage",
    "ImageRef",
    "Manifest",
    "MatBlockImage",
    "MixedDomainDataset",
    "Pair",
    "Problem",
    "Report",
    "SemiSupervisedSet",
    "Split",
    "StepBatchSampler",
    "build_split",
    "detect_layout",
    "load_spec",
    "read_manifest",
    "validate",
    "write_manifest",
]
