#!/usr/bin/env bash
# The whole system on the embedded default, end to end, into one folder it prints:
# LiteMedSAM (frozen) steered by a HarDNet-39DS prompt generator g on a synthetic dataset the
# program writes itself. Builds (release), checks the 2-rank launch (`verify`), trains
# data-parallel on 2 ranks (global batch 10), interrupts that run with SIGTERM once a step
# checkpoint exists, resumes it (`--resume auto`), trains the surrogate decoder h, evaluates
# and draws the figures. Environment: OUT=folder (default runs/demo-<time>),
# CONFIG=file (default Configs/demo.yaml), RANKS=n (default 2), EPOCHS=n (overrides train.epochs),
# BIN=path (an autosam-dist already built: no build), DEMO_DATA=dir (default demo-data; written
# when it has no TrainDataset; the config's data.train must point there), H_ITERATIONS=n (60).
# DATA=dir: the real recipe instead, on a PraNet-layout TrainDataset folder (CONFIG defaults to
# Configs/polyp.yaml; evaluation and figures on the held-out validation images; its training
# alone took 75 minutes on 2 cores, see the README's "Training on real data").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm="${OMPI_MCA_plm:-isolated}"
real="${DATA:-}"
if [ -n "$real" ]; then
  [ -d "$real/images" ] || { echo "demo: DATA=$real has no images/ folder (a PraNet-layout TrainDataset)" >&2; exit 2; }
  config="${CONFIG:-Configs/polyp.yaml}"
  data_args=(--data "$real")
else
  config="${CONFIG:-Configs/demo.yaml}"
  data_args=()
fi
ranks="${RANKS:-2}"
out="${OUT:-runs/demo-$(date +%Y%m%d-%H%M%S)}"
train="$out/train"
data="${DEMO_DATA:-demo-data}"
begin=$SECONDS
say() { printf '\n== demo [%s, %d s] %s\n' "$(date +%H:%M:%S)" $((SECONDS - begin)) "$*"; }

command -v mpirun >/dev/null || bash Launch/setup.sh
mpi=(mpirun -n "$ranks")
[ "$(nproc)" -lt "$ranks" ] && mpi+=(--oversubscribe)
epochs=()
[ -n "${EPOCHS:-}" ] && epochs=(--epochs "$EPOCHS")

if [ -n "${BIN:-}" ]; then
  bin="$BIN"
  say "1/8 using the built $bin"
else
  say "1/8 building in release mode (minutes the first time)"
  swift build -c release
  bin=.build/release/autosam-dist
fi
{ [ -f weights/lite_medsam.pth ] && [ -f weights/mobilenet_v2-b0353104.pth ]; } || bash Launch/fetch-weights.sh
mkdir -p "$out/logs"

if [ -n "$real" ]; then
  say "2/8 real data: $real"
else
  say "2/8 synthetic dataset in $data/ (made once: 50 training, 10 test images)"
  [ -d "$data/TrainDataset" ] || "$bin" make-demo-data --output "$data" --train 50 --test 10
fi

say "3/8 verify: $ranks ranks' summed gradients against rank 0 computing each batch alone"
"${mpi[@]}" "$bin" verify --config "$config" "${data_args[@]}" --steps 2 2>&1 | tee "$out/logs/verify.log"

say "4/8 training on $ranks ranks; SIGTERM to mpirun once a step checkpoint exists"
"${mpi[@]}" "$bin" train --config "$config" "${data_args[@]}" --output "$train" "${epochs[@]}" > >(tee "$out/logs/train-interrupted.log") 2>&1 &
job=$!
until compgen -G "$train/step-*.ckpt" >/dev/null; do
  kill -0 "$job" 2>/dev/null || { wait "$job" || true; echo "demo: training ended before writing a step checkpoint (set output.checkpoint_every_steps)" >&2; exit 1; }
  sleep 0.2
done
kill -TERM "$job" 2>/dev/null || true   # (a job that already ended has nothing left to interrupt)
status=0; wait "$job" || status=$?
step_ckpt=$(ls "$train"/step-*.ckpt | tail -1)
echo "demo: interrupted the training job (mpirun exit status $status) after $(basename "$step_ckpt")"

say "5/8 resuming with --resume auto"
"${mpi[@]}" "$bin" train --config "$config" "${data_args[@]}" --output "$train" "${epochs[@]}" --resume auto --trace "$train/trace.json" 2>&1 \
  | tee "$out/logs/train-resumed.log"

say "6/8 training the surrogate decoder h on the frozen best g"
"$bin" train-h --checkpoint "$train/best.ckpt" --batch 10 --iterations "${H_ITERATIONS:-60}" 2>&1 | tee "$out/logs/train-h.log"

if [ -n "$real" ]; then
  say "7/8 evaluating best.ckpt on the held-out validation images, with h(g(I)) and SAM with the true box beside"
  "$bin" eval --checkpoint "$train/best.ckpt" --split validation --box-baseline --output "$out/eval" 2>&1 | tee "$out/logs/eval.log"
  panels=(--split validation)
else
  say "7/8 evaluating best.ckpt (rank 0 alone) on the test set, with h(g(I)) beside"
  "$bin" eval --checkpoint "$train/best.ckpt" --data "$data/TestDataset" --output "$out/eval" 2>&1 | tee "$out/logs/eval.log"
  panels=(--data "$data/TestDataset")
fi

say "8/8 figure panels (a)–(e) with h rows, and the training curve"
"$bin" figures --checkpoint "$train/best.ckpt" "${panels[@]}" --images 4 \
  --curve "$train/metrics.jsonl" --output "$out/figures" 2>&1 | tee "$out/logs/figures.log"

resumed=$(grep -m1 -o 'resumed from .*' "$out/logs/train-resumed.log" || echo "resumed: see logs/train-resumed.log")
{
  echo "# autosam-dist demo: $(date '+%Y-%m-%d %H:%M') ($((SECONDS - begin)) s)"
  echo
  echo "Config \`$config\`, $ranks MPI ranks; the first training run was stopped with SIGTERM after"
  echo "\`$(basename "$step_ckpt")\`, then $resumed."
  echo
  echo "| path | what |"
  echo "|---|---|"
  echo "| \`eval/summary.md\`, \`eval/summary.csv\` | the evaluation table (Dice, IoU, MAE; h(g(I)) Dice; the paper's Dice) |"
  echo "| \`eval/per_image.csv\` | per-image scores |"
  echo "| \`figures/panels_*.png\`, \`figures/hrow_*.png\` | panels (a) input, (b) ground truth, (c) Mz, (d) SAM prompted with the box of Mz, (e) SAM with the ground truth's box (LiteMedSAM answers to boxes, not masks), each with its Dice, and (g) the prediction's and ground truth's outlines on the input; h rows |"
  echo "| \`figures/training_curve.png\` | loss and Dice per epoch |"
  echo "| \`train/metrics.jsonl\`, \`train/steps.jsonl\` | one line per epoch, one per optimiser step |"
  echo "| \`train/events.out.tfevents.*\` | the same as TensorBoard scalars: \`tensorboard --logdir $out\` |"
  echo "| \`train/best.ckpt\`, \`train/last.ckpt\`, \`train/step-*.ckpt\` | checkpoints (\`autosam-dist inspect\` shows one) |"
  echo "| \`train/h.ckpt\` | the surrogate decoder h |"
  echo "| \`train/trace.json\` | the resumed run's timeline per rank (chrome://tracing, Perfetto) |"
  echo "| \`logs/\` | every step's console output |"
  echo
  echo "## Evaluation"
  echo
  sed -n '/^| Dataset/,$p' "$out/eval/summary.md"
} > "$out/README.md"

say "done in $((SECONDS - begin)) s; everything is in $out/"
cat "$out/README.md"
echo
echo "Output folder: $out"
