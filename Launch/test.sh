#!/usr/bin/env bash
# Builds the package and runs the whole test suite. Tests run on a release build
# (with -enable-testing for @testable imports): the model-parity tests run the real
# LiteMedSAM, which takes minutes unoptimised and seconds optimised. The MPI tests
# launch the built autosam-dist binary, so it is built first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated
# A build folder of its own, so user builds (.build) and test builds do not rebuild each other.
flags=(-c release -Xswiftc -enable-testing --scratch-path .build-test)
swift build "${flags[@]}"
swift build "${flags[@]}" --build-tests
# XCTest only: the suite has no Swift Testing tests, and its empty run would close the log.
swift test "${flags[@]}" --skip-build --disable-swift-testing "$@"
