#!/usr/bin/env bash
# Builds the package (the MPI tests launch the built binary) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated
swift build
# XCTest only: the suite has no Swift Testing tests, and its empty run would close the log.
swift test --disable-swift-testing "$@"
