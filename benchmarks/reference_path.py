"""A plain SeNM-VAE, written the way the authors' code computes it, for side-by-side timing.

It takes the state dict of a :class:`senmvae.SeNMVAE` (our parameter names) and computes, with
plain PyTorch in the default memory format:

* generation, y ~ p(y | x): the clean encoder, then per level both branches of q(z|x) (a
  residual dense block and a 1x1 conv each for the mean and for log sigma), the projection,
  both branches of p(zn | z, level) with the level appended as a constant channel, the
  projection and the decoder block, over the whole image at once;
* the VAE training step on a mixed batch: all three encoders, and in both decoding streams
  every Gaussian head, for every sample; the losses are masked by domain afterwards (no routing).

It is not part of the library: the library's network must give the same outputs for the same
weights and the same standard normal draws, which :mod:`side_by_side` asserts before timing.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from senmvae.domain import Domain
from senmvae.model.config import ModelConfig

Params = dict[str, torch.Tensor]
# (level index, "z" or "zn", tensor the draw must match) -> standard normal draw of that shape
Noise = Callable[[int, str, torch.Tensor], torch.Tensor]


class PlainSeNMVAE:
    """The authors' computation on the weights ``params`` of a model of config ``cfg``."""

    def __init__(self, cfg: ModelConfig, params: Params):
        self.cfg = cfg
        self.p = params

    # ------------------------------------------------------------------ building blocks
    def conv(self, name: str, x: torch.Tensor) -> torch.Tensor:
        weight = self.p[f"{name}.weight"]
        return F.conv2d(x, weight, self.p[f"{name}.bias"], padding=weight.shape[-1] // 2)

    def rdb(self, name: str, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for k in range(4):
            features.append(F.leaky_relu(self.conv(f"{name}.convs.{k}", torch.cat(features, 1)), 0.2))
        return x + 0.2 * self.conv(f"{name}.convs.4", torch.cat(features, 1))

    def block(self, name: str, kind: str, x: torch.Tensor, down: bool) -> torch.Tensor:
        if kind == "block":
            return self.rdb(name, x)
        return self.conv(f"{name}.conv", F.pixel_unshuffle(x, 2) if down else F.pixel_shuffle(x, 2))

    def encoder(self, name: str, image: torch.Tensor) -> list[torch.Tensor]:
        act = self.conv(f"{name}.stem.0", image)
        for i in range(self.cfg.num_down):
            act = self.conv(f"{name}.stem.{i + 1}.conv", F.pixel_unshuffle(act, 2))
        acts = []
        for i, kind in enumerate(self.cfg.level_kinds):
            act = self.block(f"{name}.blocks.{i}", kind, act, down=True)
            acts.append(act)
        return acts

    def head(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log sigma), each from its own residual dense block and 1x1 conv."""
        return tuple(
            self.conv(f"{name}.{branch}.1", self.rdb(f"{name}.{branch}.0", x)) for branch in ("mean", "log_sigma")
        )

    def with_level(self, h: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        b, _, height, width = h.shape
        channel = (level * self.cfg.level_scale).view(b, 1, 1, 1).expand(b, 1, height, width)
        return torch.cat([h, channel], 1)

    def output(self, h: torch.Tensor) -> torch.Tensor:
        for i in range(self.cfg.num_down):
            h = self.conv(f"output.{i}.conv", F.pixel_shuffle(h, 2))
        i = self.cfg.num_down
        return self.conv(f"output.{i + 2}", F.relu(self.conv(f"output.{i}", h)))

    # ------------------------------------------------------------------ generation
    def sample(self, clean: torch.Tensor, level: torch.Tensor, noise: Noise, temperature: float = 1.0) -> torch.Tensor:
        """y ~ p(y | x) for (B, C, H, W) ``clean`` with sides multiples of the size multiple."""
        acts = self.encoder("clean_encoder", clean)
        h = torch.zeros_like(acts[-1])
        for i in reversed(range(self.cfg.num_levels)):
            mean, log_sigma = self.head(f"levels.{i}.q_z_clean", h + acts[i])
            h = h + self.conv(f"levels.{i}.proj_z", mean + temperature * log_sigma.exp() * noise(i, "z", mean))
            mean, log_sigma = self.head(f"levels.{i}.p_zn", self.with_level(h, level))
            h = h + self.conv(f"levels.{i}.proj_zn", mean + temperature * log_sigma.exp() * noise(i, "zn", mean))
            h = self.block(f"levels.{i}.block", self.cfg.level_kinds[i], h, down=False)
        return self.output(h)

    # ------------------------------------------------------------------ training
    def training_terms(
        self,
        clean: torch.Tensor,
        noisy: torch.Tensor,
        domain: torch.Tensor,
        level: torch.Tensor,
        generator: torch.Generator,
        p_clean: float = 0.5,
    ) -> dict[str, torch.Tensor]:
        """Per-row reconstruction errors and KLs of both streams, every branch run for every row.

        The random draws are those :meth:`senmvae.SeNMVAE.forward` makes from ``generator`` for
        the rows it runs (so both give the same numbers); rows it does not run get draws of
        their own, which only reach terms that the domain masks remove.
        """
        b = clean.shape[0]
        paired, source, target = (torch.nonzero(domain == d).flatten() for d in Domain)
        clean_rows, noisy_rows = torch.cat([paired, source]), torch.cat([paired, target])
        spare = torch.Generator(device=clean.device).manual_seed(0)
        clean_acts = self.encoder("clean_encoder", clean)
        noisy_acts = self.encoder("noisy_encoder", noisy)
        degradation_acts = self.encoder("degradation_encoder", noisy)

        def draws(like: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            """Standard normal draws for every row; ``rows`` (in order) from ``generator``."""
            eps = torch.randn(like.shape, generator=spare, device=like.device, dtype=like.dtype)
            ours = torch.randn((len(rows), *like.shape[1:]), generator=generator, device=like.device, dtype=like.dtype)
            return eps.index_put((rows,), ours)

        def stream(rows: torch.Tensor, with_zn: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            pick_paired = torch.rand(len(paired), generator=generator, device=clean.device) < p_clean
            use_clean = domain == Domain.SOURCE
            use_clean = use_clean.index_put((paired,), pick_paired).view(b, 1, 1, 1)
            h = torch.zeros_like(clean_acts[-1])
            kl_z, kl_zn = clean.new_zeros(b), clean.new_zeros(b)
            for i in reversed(range(self.cfg.num_levels)):
                q_clean = self.head(f"levels.{i}.q_z_clean", h + clean_acts[i])
                q_noisy = self.head(f"levels.{i}.q_z_noisy", h + noisy_acts[i])
                z_clean = q_clean[0] + q_clean[1].exp() * draws(q_clean[0], clean_rows if not with_zn else paired)
                z_noisy = q_noisy[0] + q_noisy[1].exp() * draws(q_noisy[0], paired if not with_zn else noisy_rows)
                kl_z = kl_z + _kl(q_noisy, q_clean).mean((1, 2, 3))
                h = h + self.conv(f"levels.{i}.proj_z", torch.where(use_clean, z_clean, z_noisy))
                if with_zn:
                    prior = self.head(f"levels.{i}.p_zn", self.with_level(h, level))
                    posterior = self.head(f"levels.{i}.q_zn", self.with_level(h + degradation_acts[i], level))
                    zn = posterior[0] + posterior[1].exp() * draws(posterior[0], noisy_rows)
                    kl_zn = kl_zn + _kl(posterior, prior).mean((1, 2, 3))
                    h = h + self.conv(f"levels.{i}.proj_zn", zn)
                h = self.block(f"levels.{i}.block", self.cfg.level_kinds[i], h, down=False)
            return self.output(h), kl_z, kl_zn

        recon_clean, kl_z_x, _ = stream(clean_rows, with_zn=False)
        recon_noisy, kl_z_y, kl_zn = stream(noisy_rows, with_zn=True)
        return {
            "rec_clean": (recon_clean - clean).pow(2).flatten(1).mean(1)[clean_rows],
            "rec_noisy": (recon_noisy - noisy).pow(2).flatten(1).mean(1)[noisy_rows],
            "kl_zn": kl_zn[noisy_rows],
            "kl_z": (kl_z_x + kl_z_y)[paired],
        }


def _kl(q: tuple[torch.Tensor, torch.Tensor], p: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    (m1, s1), (m2, s2) = q, p
    return s2 - s1 + 0.5 * (torch.exp(2 * (s1 - s2)) + (m1 - m2) ** 2 * torch.exp(-2 * s2)) - 0.5
