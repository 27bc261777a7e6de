#!/usr/bin/env bash
# Launches data-parallel training with the mpirun flags this machine kind needs:
#   Launch/train.sh [--ranks N] [--threads T] [--hostfile F] -- --config Configs/demo.yaml [train options]
# Ranks default to 2, threads per rank to cores ÷ ranks. Each rank is bound to its own T cores
# when ranks × T fits the cores (so BLAS threads never share a core), and left unbound with
# --oversubscribe when it does not. Runs as root are allowed; no ssh is needed on one host.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ranks=2
threads=""
hostfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --hostfile) hostfile="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "train.sh: unknown option $1 (options go before --, train's after it)" >&2; exit 2 ;;
  esac
done
cores=$(nproc)
[ -n "$threads" ] || threads=$(( cores / ranks > 0 ? cores / ranks : 1 ))
bin=.build/release/autosam-dist
[ -x "$bin" ] || swift build -c release
flags=(-n "$ranks" -x OPENBLAS_NUM_THREADS="$threads")
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
if [ -n "$hostfile" ]; then
  flags+=(--hostfile "$hostfile" --map-by "slot:PE=$threads" --bind-to core)
elif [ $(( ranks * threads )) -le "$cores" ]; then
  flags+=(--map-by "slot:PE=$threads" --bind-to core)
else
  flags+=(--oversubscribe --bind-to none)
fi
export OMPI_MCA_plm="${OMPI_MCA_plm:-isolated}"
[ -n "$hostfile" ] && unset OMPI_MCA_plm
echo "mpirun ${flags[*]} $bin train --threads $threads $*" >&2
exec mpirun "${flags[@]}" "$bin" train --threads "$threads" "$@"
