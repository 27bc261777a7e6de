#!/usr/bin/env bash
# The main job on the embedded default: LiteMedSAM (frozen, fetched by setup.sh) steered by a
# HarDNet-39DS prompt generator, trained data-parallel on 2 ranks over a synthetic dataset
# the program writes itself. Results: runs/demo/{metrics.jsonl,best.ckpt,last.ckpt}.
# RANKS=1 bash Launch/demo.sh runs it as a single process.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated
ranks="${RANKS:-2}"
swift build -c release
bin=.build/release/autosam-dist
[ -f weights/lite_medsam.pth ] || bash Launch/fetch-weights.sh
[ -d demo-data/TrainDataset ] || "$bin" make-demo-data --output demo-data --train 50 --test 10
if [ "$ranks" -gt 1 ]; then
  mpirun -n "$ranks" "$bin" train --config Configs/demo.yaml
else
  "$bin" train --config Configs/demo.yaml
fi
