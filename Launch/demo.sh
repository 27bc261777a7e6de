#!/usr/bin/env bash
# The main job on the embedded default. While training is being built (see README,
# "Status"), this checks the MPI launch and measures the tensor core on this machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated
swift build -c release
bin=.build/release/autosam-dist
mpirun -n 2 "$bin" check-mpi
"$bin" info
