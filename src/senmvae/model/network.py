"""The SeNM-VAE network (Zheng et al., CVPR 2024, section 3.2).

Three bottom-up encoders (clean x; noisy y for content; noisy y for degradation) keep one
activation per latent level. One top-down pass walks the levels from the coarsest down; each
:class:`TopDownLevel` owns its Gaussian heads q(z|x), q(z|y), q(zn|y,z), p(zn|z), its two
projections and its decoder block. What the pass does is set by a :class:`Stream`:

* the clean stream decodes x from z only (training on paired and source samples),
* the noisy stream decodes y from z and zn ~ q(zn|y,z) (training on paired and target samples),
* generation decodes y from z ~ q(z|x) and zn ~ p(zn|z, level),
* denoising decodes x from z ~ q(z|y).

Both decoders share one network: the noisy path is the clean path plus the zn projections.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from senmvae.domain import Domain
from senmvae.model.blocks import Downsample, GaussianHead, ResidualDenseBlock, Upsample
from senmvae.model.config import LevelPredictorConfig, ModelConfig
from senmvae.model.distributions import DiagonalGaussian, Generator
from senmvae.model.pixel_noise import PixelNoiseHead

NOISE_PARTS = ("zn", "pixel")  # the sources of noise a generation pass can draw

# (level index, latent name "z" or "zn", tensor the draw must match, halo) -> N(0, 1) of that
# shape widened by ``halo`` pixels on every side (the pixel noise's colouring kernel needs a halo)
NoiseSupply = Callable[..., torch.Tensor]


def _rows(generator: Generator, n: int) -> Generator:
    """The generators of the first ``n`` rows (a single generator serves any rows)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    return list(generator)[:n]


def channels_last_on_cpu(image: torch.Tensor) -> torch.Tensor:
    """Activations are channels-last on CPU, where oneDNN's convolutions run faster on them (a
    generation or training pass 1.1-1.3x, docs/performance.md); every later activation inherits
    the layout. On CUDA the caller's layout is kept."""
    return image.contiguous(memory_format=torch.channels_last) if image.device.type == "cpu" else image


class Encoder(nn.Module):
    """Stem (1x1 conv, then ``num_down`` downsamplers) and one block per latent level."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, c, 1), *[Downsample(c) for _ in range(cfg.num_down)])
        self.blocks = nn.ModuleList(
            Downsample(c) if kind == "resample" else ResidualDenseBlock(c, cfg.growth) for kind in cfg.level_kinds
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        act = self.stem(channels_last_on_cpu(image))
        acts = []
        for block in self.blocks:
            act = block(act)
            acts.append(act)
        return acts


@dataclass
class Stream:
    """What one top-down pass samples and decodes, for a batch of ``rows`` samples.

    ``clean_acts`` cover the first ``len(clean)`` rows and ``noisy_acts`` the first
    ``len(noisy)`` rows (per level); one of the two covers every row, and the rows covered by
    both (the first ``n_both``) are paired samples, whose content latent comes from the
    clean posterior where ``use_clean`` is true and from the noisy posterior elsewhere, and
    whose KL(q(z|y) || q(z|x)) is recorded. ``zn`` is ``"none"`` (decode x), ``"posterior"``
    (zn ~ q(zn|y,z), needs ``degradation_acts``; KL to the prior recorded) or ``"prior"``
    (zn ~ p(zn|z)).
    """

    rows: int
    clean_acts: list[torch.Tensor] | None
    noisy_acts: list[torch.Tensor] | None
    zn: str = "none"
    degradation_acts: list[torch.Tensor] | None = None
    level: torch.Tensor | None = None
    use_clean: torch.Tensor | None = None
    generator: Generator = None
    temperature: float = 1.0
    # Per level, content latents to use as they are instead of sampling them (then neither
    # acts list is read); the pass records the z it used in LevelStats.z either way.
    given_z: list[torch.Tensor] | None = None
    # The standard normal draws of every latent, (level index, "z" or "zn", like) -> tensor,
    # instead of the generator (generation in tiles with position-fixed noise).
    noise: NoiseSupply | None = None
    z_temperature: float | None = None  # the content latents' temperature when not ``temperature``
    release_acts: bool = False  # drop each level's encoder activations once used (inference)
    # The top level's q(z|x) and q(z|y) over the rows of ``clean_acts`` / ``noisy_acts``, when
    # computed already: with the zero state above the top they are the same in every stream.
    top_posteriors: tuple[DiagonalGaussian | None, DiagonalGaussian | None] | None = None

    @property
    def n_both(self) -> int:
        if self.clean_acts is None or self.noisy_acts is None:
            return 0
        return min(self.clean_acts[0].shape[0], self.noisy_acts[0].shape[0])


@dataclass
class LevelStats:
    kl_z: torch.Tensor | None = None  # (n_both,) mean over elements of KL(q(z|y) || q(z|x))
    kl_zn: torch.Tensor | None = None  # (rows,) mean over elements of KL(q(zn|y,z) || p(zn|z))
    z: torch.Tensor | None = None  # the content latent this level used


class TopDownLevel(nn.Module):
    """One latent level: posterior and prior heads, projections and the decoder block."""

    def __init__(self, cfg: ModelConfig, kind: str):
        super().__init__()
        c, g, zc = cfg.channels, cfg.growth, cfg.zn_channels
        self.q_z_clean = GaussianHead(c, c, g)  # q(z|x), also the prior p(z|x)
        self.q_z_noisy = GaussianHead(c, c, g)  # q(z|y)
        self.q_zn = GaussianHead(c + 1, zc, g)  # q(zn|y,z,level)
        self.p_zn = GaussianHead(c + 1, zc, g)  # p(zn|z,level)
        self.proj_z = nn.Conv2d(c, c, 1)
        self.proj_zn = nn.Conv2d(zc, c, 1)
        self.level_scale = cfg.level_scale
        gain = cfg.projection_gain
        with torch.no_grad():
            self.proj_z.weight.copy_(gain * torch.eye(c).view(c, c, 1, 1))
            if gain:
                nn.init.kaiming_normal_(self.proj_zn.weight)
                self.proj_zn.weight.mul_(gain)
            else:
                self.proj_zn.weight.zero_()
            for head in (self.q_z_clean, self.q_z_noisy):
                head.log_sigma[1].bias.fill_(cfg.content_log_sigma_bias)
        self.block = Upsample(c) if kind == "resample" else ResidualDenseBlock(c, g)

    def forward(self, h: torch.Tensor | None, index: int, stream: Stream) -> tuple[torch.Tensor, LevelStats]:
        """One level of the pass: ``h`` is the state from the level above (None at the top, where
        it is zero)."""
        stats = LevelStats()
        clean = stream.clean_acts[index] if stream.clean_acts is not None else None
        noisy = stream.noisy_acts[index] if stream.noisy_acts is not None else None
        n_both = stream.n_both
        temp = stream.temperature
        z_temp = temp if stream.z_temperature is None else stream.z_temperature
        if stream.given_z is not None:
            clean = noisy = None
        if stream.release_acts:
            for acts in (stream.clean_acts, stream.noisy_acts):
                if acts is not None:
                    acts[index] = None

        if h is None and stream.top_posteriors is not None:
            q_clean, q_noisy = (
                None if acts is None else dist.index(slice(0, acts.shape[0]))
                for dist, acts in zip(stream.top_posteriors, (clean, noisy))
            )
        else:
            q_clean = self.q_z_clean(_plus(h, clean)) if clean is not None else None
            q_noisy = self.q_z_noisy(_plus(h, noisy)) if noisy is not None else None
        z_clean = _draw(q_clean, stream, index, "z", z_temp, clean.shape[0]) if q_clean is not None else None
        z_noisy = _draw(q_noisy, stream, index, "z", z_temp, noisy.shape[0]) if q_noisy is not None else None
        if stream.given_z is not None:
            z = stream.given_z[index]
        elif z_clean is None:
            z = z_noisy
        elif z_noisy is None:
            z = z_clean
        else:
            full = z_clean if z_clean.shape[0] == stream.rows else z_noisy
            pick = stream.use_clean.view(-1, 1, 1, 1)
            z = torch.cat([torch.where(pick, z_clean[:n_both], z_noisy[:n_both]), full[n_both:]])
            both = slice(0, n_both)
            stats.kl_z = q_noisy.index(both).kl(q_clean.index(both)).mean((1, 2, 3))
        stats.z = z
        h = _plus(h, self.proj_z(z))

        if stream.zn != "none":
            level = stream.level * self.level_scale
            prior = self.p_zn(h, level)
            if stream.zn == "posterior":
                posterior = self.q_zn(h + stream.degradation_acts[index], level)
                zn = _draw(posterior, stream, index, "zn", temp, stream.rows)
                stats.kl_zn = posterior.kl(prior).mean((1, 2, 3))
            else:
                zn = _draw(prior, stream, index, "zn", temp, stream.rows)
            h = h + self.proj_zn(zn)
        return self.block(h), stats


def _plus(h: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """``h + x`` over the rows of ``x``; None stands for the zero state above the top level."""
    return x if h is None else h[: x.shape[0]] + x


def _draw(dist: DiagonalGaussian, stream: Stream, index: int, name: str, temperature: float, rows: int) -> torch.Tensor:
    eps = None
    if stream.noise is not None and temperature != 0:
        eps = stream.noise(index, name, dist.mean)
    return dist.sample(_rows(stream.generator, rows), temperature, eps)


class NoiseLevelPredictor(nn.Module):
    """Predicts the noise std of a noisy image (trained by L1 against std(y - x) on pairs)."""

    def __init__(self, in_channels: int, cfg: LevelPredictorConfig):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for i, ch in enumerate(cfg.channels):
            layers.append(nn.Conv2d(prev, ch, 4, 2, 1))
            if i != len(cfg.channels) - 1:
                layers.append(nn.ReLU(True))
            prev = ch
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        mlp: list[nn.Module] = []
        for width in cfg.hidden:
            mlp += [nn.Linear(prev, width), nn.ReLU(True)]
            prev = width
        self.head = nn.Sequential(*mlp, nn.Linear(prev, 1))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B,) predicted std on the [0, 1] intensity scale."""
        return self.head(self.features(noisy)).squeeze(1)


@dataclass
class TrainingOutput:
    """What the training pass produced, indexed into the batch it was given."""

    clean_rows: torch.Tensor  # batch indices of rows whose x was reconstructed
    recon_clean: torch.Tensor
    noisy_rows: torch.Tensor  # batch indices of rows whose y was reconstructed
    recon_noisy: torch.Tensor
    paired_rows: torch.Tensor
    kl_z: list[torch.Tensor] = field(default_factory=list)  # per level, (paired,), both streams summed
    kl_zn: list[torch.Tensor] = field(default_factory=list)  # per level, (len(noisy_rows),)
    # Paired rows decoded from the noisy stream's content latents without zn (when asked for).
    recon_noisy_without_zn: torch.Tensor | None = None


class SeNMVAE(nn.Module):
    """Hierarchical VAE for p(noisy | clean) with content latents z and degradation latents zn."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.clean_encoder = Encoder(cfg)  # x -> q(z|x)
        self.noisy_encoder = Encoder(cfg)  # y -> q(z|y)
        self.degradation_encoder = Encoder(cfg)  # y -> q(zn|y,z)
        self.levels = nn.ModuleList(TopDownLevel(cfg, kind) for kind in cfg.level_kinds)
        c = cfg.channels
        self.output = nn.Sequential(
            *[Upsample(c) for _ in range(cfg.num_down)],
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(c, cfg.in_channels, 3, padding=1),
        )
        self.level_predictor = (
            NoiseLevelPredictor(cfg.in_channels, cfg.level_predictor) if cfg.level_predictor is not None else None
        )
        self.pixel_noise = PixelNoiseHead(cfg) if cfg.pixel_noise is not None else None

    # ----------------------------------------------------------------- the top-down pass
    def top_down(self, stream: Stream) -> tuple[torch.Tensor, list[LevelStats]]:
        h = None
        stats: list[LevelStats] = [LevelStats()] * len(self.levels)
        for index in reversed(range(len(self.levels))):
            h, stats[index] = self.levels[index](h, index, stream)
        return self.output(h), stats

    # ----------------------------------------------------------------- training
    def forward(
        self,
        clean: torch.Tensor,
        noisy: torch.Tensor,
        domain: torch.Tensor,
        level: torch.Tensor,
        p_clean: float = 0.5,
        generator: torch.Generator | None = None,
        decode_without_zn: bool = False,
    ) -> TrainingOutput:
        """The training pass over a mixed batch, running only what each sample's loss needs.

        ``clean``/``noisy`` are (B, C, H, W); rows without that image are ignored (any
        content). ``domain`` holds :class:`Domain` values; ``level`` (B,) is the noise level
        the zn heads are conditioned on (used for rows with a noisy image). Paired samples
        draw their content latent from q(z|x) with probability ``p_clean``, else from
        q(z|y), independently in each stream. ``decode_without_zn``: also decode the paired
        rows from the very content latents of their noisy stream with every zn left out, so
        that the part of the noisy image that zn adds can be compared with the real noise.
        """
        paired = torch.nonzero(domain == Domain.PAIRED).flatten()
        source = torch.nonzero(domain == Domain.SOURCE).flatten()
        target = torch.nonzero(domain == Domain.TARGET).flatten()
        clean_rows = torch.cat([paired, source])
        noisy_rows = torch.cat([paired, target])
        n_paired = len(paired)

        clean_acts = self.clean_encoder(clean[clean_rows]) if len(clean_rows) else None
        noisy_acts = self.noisy_encoder(noisy[noisy_rows]) if len(noisy_rows) else None
        empty = clean.new_zeros((0, *clean.shape[1:]))
        out = TrainingOutput(clean_rows, empty, noisy_rows, empty, paired)
        kl_z = [clean.new_zeros(n_paired) for _ in self.levels]

        def mixture() -> torch.Tensor:
            return torch.rand(n_paired, generator=generator, device=clean.device) < p_clean

        # Both streams run the top level's q(z|x) and q(z|y) on the paired rows: once here.
        top = self.levels[-1]
        top_posteriors = (
            top.q_z_clean(clean_acts[-1]) if clean_acts is not None else None,
            top.q_z_noisy(noisy_acts[-1]) if noisy_acts is not None else None,
        )

        if len(clean_rows):
            stream = Stream(
                rows=len(clean_rows),
                clean_acts=clean_acts,
                noisy_acts=[a[:n_paired] for a in noisy_acts] if n_paired else None,
                use_clean=mixture(),
                generator=generator,
                top_posteriors=top_posteriors,
            )
            out.recon_clean, stats = self.top_down(stream)
            kl_z = [k + s.kl_z if s.kl_z is not None else k for k, s in zip(kl_z, stats)]
        if len(noisy_rows):
            stream = Stream(
                rows=len(noisy_rows),
                clean_acts=[a[:n_paired] for a in clean_acts] if n_paired else None,
                noisy_acts=noisy_acts,
                zn="posterior",
                degradation_acts=self.degradation_encoder(noisy[noisy_rows]),
                level=level[noisy_rows],
                use_clean=mixture(),
                generator=generator,
                top_posteriors=top_posteriors,
            )
            out.recon_noisy, stats = self.top_down(stream)
            kl_z = [k + s.kl_z if s.kl_z is not None else k for k, s in zip(kl_z, stats)]
            out.kl_zn = [s.kl_zn for s in stats]
            if decode_without_zn and n_paired:
                given = Stream(rows=n_paired, clean_acts=None, noisy_acts=None, given_z=[s.z[:n_paired] for s in stats])
                out.recon_noisy_without_zn, _ = self.top_down(given)
        out.kl_z = kl_z
        return out

    # ----------------------------------------------------------------- inference
    def _pad(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        m = self.config.size_multiple
        h, w = image.shape[-2:]
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            image = F.pad(image, (0, pw, 0, ph), mode=mode)
        return image, (h, w)

    def sample(
        self,
        clean: torch.Tensor,
        level: torch.Tensor | float,
        temperature: float = 1.0,
        generator: Generator = None,
        noise: NoiseSupply | None = None,
        content_exact: bool = False,
        parts: Collection[str] = NOISE_PARTS,
    ) -> torch.Tensor:
        """Draw y ~ p(y | x): z ~ q(z|x), zn ~ p(zn|z, level), y ~ p(y|z, zn).

        ``level``: noise std on the [0, 1] scale, a float or one per image. ``temperature``
        scales the standard deviation of every latent (0: every latent at its mean).
        ``generator``: one ``torch.Generator``, or one per image so that each output depends
        only on its own generator, whatever else is in the batch; ``noise`` supplies the
        standard normal draws instead. Any image size works.

        ``content_exact``: return the noise that zn adds instead of y: z at the mean of
        q(z|x), the decoder output with zn ~ p(zn|z, level) minus the decoder output from the
        very same z with every zn left out.

        With a pixel-noise head, its draw sigma(x, level) * u (at the same temperature; u its
        unit-variance field, white or coloured) is added to either output.

        ``parts``: which sources of noise to draw, of ``"zn"`` (the degradation latents; without
        it the decoder runs without zn, and content-exact returns zero from it) and ``"pixel"``
        (the head); the component table of a model measures each alone.
        """
        unknown = set(parts) - set(NOISE_PARTS)
        if unknown:
            raise ValueError(f"unknown noise parts {sorted(unknown)}; choose from {', '.join(NOISE_PARTS)}")
        padded, (h, w) = self._pad(clean)
        level = torch.as_tensor(level, dtype=clean.dtype, device=clean.device).flatten()
        if level.numel() == 1:
            level = level.expand(clean.shape[0])
        stream = Stream(
            rows=clean.shape[0],
            clean_acts=self.clean_encoder(padded),
            noisy_acts=None,
            zn="prior" if "zn" in parts else "none",
            level=level,
            generator=generator,
            temperature=temperature,
            noise=noise,
            z_temperature=0.0 if content_exact else None,
            release_acts=not torch.is_grad_enabled(),
        )
        out, stats = self.top_down(stream)
        if content_exact and "zn" in parts:
            given = Stream(rows=clean.shape[0], clean_acts=None, noisy_acts=None, given_z=[s.z for s in stats])
            out = out - self.top_down(given)[0]
        elif content_exact:
            out = torch.zeros_like(out)
        if self.pixel_noise is not None and temperature != 0 and "pixel" in parts:
            pixel = self.pixel_noise(padded, level)
            supply = None
            if noise is not None:

                def supply(name: str, halo: int) -> torch.Tensor:
                    return noise(len(self.levels), name, pixel.log_sigma, halo)

            out = out + pixel.sample(generator, temperature, supply)
        return out[..., :h, :w]

    def reconstruct(self, clean: torch.Tensor) -> torch.Tensor:
        """x -> decoder(z) with z at the mean of q(z|x) and no zn: how well the content path
        reproduces an image (what the paper's sampler cannot add noise on top of)."""
        padded, (h, w) = self._pad(clean)
        stream = Stream(rows=clean.shape[0], clean_acts=self.clean_encoder(padded), noisy_acts=None, temperature=0.0)
        out, _ = self.top_down(stream)
        return out[..., :h, :w]

    def denoise(self, noisy: torch.Tensor, temperature: float = 0.0, generator: Generator = None) -> torch.Tensor:
        """The y -> x path: z ~ q(z|y), x = decoder(z). ``temperature=0`` uses the means."""
        padded, (h, w) = self._pad(noisy)
        stream = Stream(
            rows=noisy.shape[0],
            clean_acts=None,
            noisy_acts=self.noisy_encoder(padded),
            generator=generator,
            temperature=temperature,
        )
        out, _ = self.top_down(stream)
        return out[..., :h, :w]

    def predict_level(self, noisy: torch.Tensor) -> torch.Tensor:
        """Predicted noise std (B,) of noisy images; needs the level predictor."""
        if self.level_predictor is None:
            raise RuntimeError(
                "this model has no noise-level predictor (official checkpoints do not include one); "
                "pass an explicit noise level instead"
            )
        return self.level_predictor(noisy)

    def num_parameters(self, part: str = "vae") -> int:
        """Parameters of the VAE (``"vae"``) or of the noise-level predictor (0 without one)."""
        prefix = "level_predictor."
        return sum(p.numel() for n, p in self.named_parameters() if n.startswith(prefix) == (part == "level_predictor"))
