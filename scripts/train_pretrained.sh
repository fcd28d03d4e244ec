#!/usr/bin/env bash
# How the shipped pretrained models were made (src/senmvae/pretrained/*.md has the measured facts).
# Long: run it in the background on one core, e.g.
#   OMP_NUM_THREADS=1 nohup bash scripts/train_pretrained.sh WORKDIR > WORKDIR.log 2>&1 &
# Needs ../shared/data (clean photo sets, PolyU, RENOIR, Nam). Steps:
#   1. simulated pairs of the 510 clean photos (camera profiles the demo set does not use);
#   2. the first base: the cpu preset from scratch on them (time budget BASE_MINUTES), with the
#      paper's perceptual and GAN terms (the cpu preset had them then; ADVERSARIAL below), without
#      the pixel-noise head (the first round had none), then continued from there with a white
#      head (lr 3e-4, BASE_MORE_MINUTES). The first shipped base had one more run between these
#      two, 750 steps under an earlier form of the head's loss that this code no longer has;
#      this script goes straight to the final one;
#   3. the first base continued on real camera-noise pairs, the training scenes of
#      PolyU, RENOIR and Nam (scripts/real_pairs_manifest.py; the benchmark's held-out scenes are
#      left out entirely), with the 110 Kodak24, McMaster and CBSD68 photos as clean-only images:
#      the pixel-noise head gets its 7x7 colouring kernel (head lr 1e-3, no perceptual or GAN
#      term), first REAL_MINUTES without, then REAL_MORE_MINUTES with the zn spectrum term;
#   4. polyu, renoir and nam: step 3's base fine-tuned on the training scenes of that set alone (FT_MINUTES
#      each), then continued with the colouring at its own, higher learning rate (2e-3;
#      POLYU_MORE_MINUTES, RENOIR_MORE_MINUTES, NAM_MORE_MINUTES): at the head's 5e-4 the colouring
#      had not finished moving from base's (one colouring for three cameras) to the set's own
#      cross-channel correlation;
#   5. polyu once more (POLYU_WIDE_MINUTES) with a POLYU_KERNEL x POLYU_KERNEL colouring, its 7x7 one
#      widened with zero taps: PolyU's noise is correlated over more than 7 pixels, which a 7x7
#      colouring cannot make (docs/training.md);
#   6. each of them continued with every crop conditioned on its whole image's noise std
#      (data.level=image; std network at 1e-3): polyu IMAGE_POLYU_MINUTES, nam IMAGE_NAM_MINUTES,
#      renoir twice IMAGE_RENOIR_MINUTES, so that the head learns where in an image the noise is
#      stronger (edges, intensity); synthesis then matches the asked level exactly (docs/training.md);
#   7. base continued the same way on the real pairs of step 3 (BASE_IMAGE_MINUTES; the fine-tunes
#      above start from step 3's base, not from this one);
#   8. all exported as float16 safetensors into src/senmvae/pretrained/ (from steps 6 and 7).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:?usage: train_pretrained.sh WORKDIR}
BASE_MINUTES=${BASE_MINUTES:-75}
BASE_MORE_MINUTES=${BASE_MORE_MINUTES:-50}
REAL_MINUTES=${REAL_MINUTES:-14}
REAL_MORE_MINUTES=${REAL_MORE_MINUTES:-25}
FT_MINUTES=${FT_MINUTES:-18}
POLYU_MORE_MINUTES=${POLYU_MORE_MINUTES:-20}
RENOIR_MORE_MINUTES=${RENOIR_MORE_MINUTES:-25}
NAM_MORE_MINUTES=${NAM_MORE_MINUTES:-20}
POLYU_WIDE_MINUTES=${POLYU_WIDE_MINUTES:-20}
POLYU_KERNEL=${POLYU_KERNEL:-11}
IMAGE_POLYU_MINUTES=${IMAGE_POLYU_MINUTES:-25}
IMAGE_NAM_MINUTES=${IMAGE_NAM_MINUTES:-20}
IMAGE_RENOIR_MINUTES=${IMAGE_RENOIR_MINUTES:-25}
BASE_IMAGE_MINUTES=${BASE_IMAGE_MINUTES:-40}
SHARED=../shared/data
PY=.venv/bin/python
ADVERSARIAL=(--set objective.perceptual_weight=0.01 --set objective.gan_weight=0.1)
mkdir -p "$WORK"

$PY - "$WORK/base-sim" "$SHARED/clean" <<'PYTHON'
import sys
from senmvae.data.simulated import build_simulated_pairs
out, clean = sys.argv[1], sys.argv[2]
build_simulated_pairs([f"{clean}/{name}" for name in ("Kodak24", "McMaster", "CBSD68", "BSDS500-train-test")], out)
PYTHON

.venv/bin/senmvae train --preset cpu --data "$WORK/base-sim" --out "$WORK/base-run" --steps 100000 \
    --set schedule.max_minutes="$BASE_MINUTES" --set schedule.warmup_steps=200 --set validation.pairs=8 \
    --set logging.every=25 --set model.pixel_noise=null "${ADVERSARIAL[@]}"
.venv/bin/senmvae train --preset cpu --data "$WORK/base-sim" --out "$WORK/base-more" --steps 100000 \
    --set init.weights="$WORK/base-run" --set schedule.max_minutes="$BASE_MORE_MINUTES" --set optim.lr=3e-4 \
    --set objective.kl_anneal_steps=0 --set validation.pairs=8 --set validation.every=500 --set logging.every=25 \
    "${ADVERSARIAL[@]}"

$PY scripts/real_pairs_manifest.py "$WORK/real/manifest.json" "$SHARED/polyu" "$SHARED/renoir" "$SHARED/nam" \
    --photos "$SHARED/clean/Kodak24" "$SHARED/clean/McMaster" "$SHARED/clean/CBSD68"
REAL=(--steps 100000 --set data.frequencies=[2,1,0] --set objective.perceptual_weight=0 --set objective.gan_weight=0
    --set validation.every=0 --set logging.every=25 --set checkpoint.every=200)
.venv/bin/senmvae train --preset finetune --data "$WORK/real/manifest.json" --out "$WORK/base-real" "${REAL[@]}" \
    --set init.weights="$WORK/base-more" --set schedule.max_minutes="$REAL_MINUTES" --set optim.pixel_noise_lr=1e-3
.venv/bin/senmvae train --preset finetune --data "$WORK/real/manifest.json" --out "$WORK/base-final" "${REAL[@]}" \
    --set init.weights="$WORK/base-real" --set schedule.max_minutes="$REAL_MORE_MINUTES" --set optim.pixel_noise_lr=1e-3 \
    --set objective.zn_spectrum_weight=2e-3

FT=("${REAL[@]}" --set optim.pixel_noise_lr=5e-4 --set objective.zn_spectrum_weight=2e-3 --set data.frequencies=[1,0,0])
for name in polyu renoir nam; do
    more_minutes=$POLYU_MORE_MINUTES
    [ "$name" = renoir ] && more_minutes=$RENOIR_MORE_MINUTES
    [ "$name" = nam ] && more_minutes=$NAM_MORE_MINUTES
    $PY scripts/real_pairs_manifest.py "$WORK/$name/manifest.json" "$SHARED/$name"
    .venv/bin/senmvae train --preset finetune --data "$WORK/$name/manifest.json" --out "$WORK/$name-run" "${FT[@]}" \
        --set init.weights="$WORK/base-final" --set schedule.max_minutes="$FT_MINUTES"
    .venv/bin/senmvae train --preset finetune --data "$WORK/$name/manifest.json" --out "$WORK/$name-more" "${FT[@]}" \
        --set init.weights="$WORK/$name-run" --set schedule.max_minutes="$more_minutes" --set optim.pixel_noise_colour_lr=2e-3
done
.venv/bin/senmvae train --preset finetune --data "$WORK/polyu/manifest.json" --out "$WORK/polyu-wide" "${FT[@]}" \
    --set init.weights="$WORK/polyu-more" --set schedule.max_minutes="$POLYU_WIDE_MINUTES" \
    --set optim.pixel_noise_colour_lr=2e-3 --set model.pixel_noise.kernel="$POLYU_KERNEL"

IMAGE=("${FT[@]}" --set optim.pixel_noise_colour_lr=2e-3 --set optim.pixel_noise_lr=1e-3 --set data.level=image)
.venv/bin/senmvae train --preset finetune --data "$WORK/polyu/manifest.json" --out "$WORK/polyu-img" "${IMAGE[@]}" \
    --set init.weights="$WORK/polyu-wide" --set schedule.max_minutes="$IMAGE_POLYU_MINUTES" \
    --set model.pixel_noise.kernel="$POLYU_KERNEL"
.venv/bin/senmvae train --preset finetune --data "$WORK/nam/manifest.json" --out "$WORK/nam-img" "${IMAGE[@]}" \
    --set init.weights="$WORK/nam-more" --set schedule.max_minutes="$IMAGE_NAM_MINUTES"
.venv/bin/senmvae train --preset finetune --data "$WORK/renoir/manifest.json" --out "$WORK/renoir-img" "${IMAGE[@]}" \
    --set init.weights="$WORK/renoir-more" --set schedule.max_minutes="$IMAGE_RENOIR_MINUTES"
.venv/bin/senmvae train --preset finetune --data "$WORK/renoir/manifest.json" --out "$WORK/renoir-img2" "${IMAGE[@]}" \
    --set init.weights="$WORK/renoir-img" --set schedule.max_minutes="$IMAGE_RENOIR_MINUTES"
.venv/bin/senmvae train --preset finetune --data "$WORK/real/manifest.json" --out "$WORK/base-img" "${REAL[@]}" \
    --set init.weights="$WORK/base-final" --set schedule.max_minutes="$BASE_IMAGE_MINUTES" --set optim.pixel_noise_lr=1e-3 \
    --set optim.pixel_noise_colour_lr=2e-3 --set objective.zn_spectrum_weight=2e-3 --set data.level=image
$PY scripts/export_pretrained.py "$WORK/base-img" base
for name in polyu nam renoir; do
    run="$WORK/$name-img"
    [ "$name" = renoir ] && run="$WORK/renoir-img2"
    $PY scripts/export_pretrained.py "$run" "$name"
done
