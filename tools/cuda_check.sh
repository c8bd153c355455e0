#!/usr/bin/env bash
# Run every CLI edit with --device cuda on a machine with a GPU, time it, and compare the one-pass
# edits (fast style, x2 upscale) with the CPU's output. Prints one line per command; pictures go
# to OUT (default /tmp/semedit-cuda). CI has no GPU: this is for a lent GPU machine (see
# README "Command line"), run from the repository root:
#   SEMEDIT_MODELS=../shared/models bash tools/cuda_check.sh
# DATA (default ../shared/data) must hold content/{tubingen,golden_gate}.jpg and
# style/{starry_night,shipwreck}.jpg. PY (default python3) must import torch with CUDA.
set -u
PY=${PY:-python3}
DATA=${DATA:-../shared/data}
OUT=${OUT:-/tmp/semedit-cuda}
DEV=${DEV:-cuda}
export SEMEDIT_MODELS=${SEMEDIT_MODELS:-../shared/models}
mkdir -p "$OUT"
C=$DATA/content
S=$DATA/style

run() {
    local start rc
    start=$(date +%s.%N)
    $PY -m editor "$@" > "$OUT/last.log" 2>&1
    rc=$?
    printf 'rc=%s %5.1f s  semedit %s\n' "$rc" "$($PY -c "print($(date +%s.%N) - $start)")" "$*"
    [ "$rc" -eq 0 ] || tail -3 "$OUT/last.log"
}

$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
for d in cpu "$DEV"; do
    run style "$C/tubingen.jpg" --model the_scream -o "$OUT/fast_$d.png" --device "$d"
    run upscale "$C/golden_gate.jpg" --scale 2 -o "$OUT/up2_$d.png" --device "$d"
done
run style "$C/tubingen.jpg" --style "$S/starry_night.jpg" --method wct -o "$OUT/wct.jpg" --device "$DEV"
run style "$C/tubingen.jpg" --style "$S/starry_night.jpg" --size 512 -o "$OUT/gatys.jpg" --device "$DEV"
run style "$C/golden_gate.jpg" --style "$S/shipwreck.jpg" --method mrf --size 384 \
    -o "$OUT/mrf.jpg" --device "$DEV"
run texture "$S/starry_night.jpg" --size 256x256 -o "$OUT/texture.jpg" --device "$DEV"
$PY - "$C/tubingen.jpg" "$OUT/mask.png" <<'PY'
import sys
import numpy as np
from PIL import Image
w, h = Image.open(sys.argv[1]).size
yy, xx = np.mgrid[0:h, 0:w]
inside = ((xx - 0.55 * w) / (0.14 * w)) ** 2 + ((yy - 0.6 * h) / (0.18 * h)) ** 2 <= 1
Image.fromarray((inside * 255).astype(np.uint8)).save(sys.argv[2])
PY
run remove "$C/tubingen.jpg" --mask "$OUT/mask.png" -o "$OUT/remove.jpg" --device "$DEV"
$PY - "$OUT" "$DEV" <<'PY'
import sys
import numpy as np
from PIL import Image
out, dev = sys.argv[1], sys.argv[2]
for name in ("fast", "up2"):
    a = np.asarray(Image.open(f"{out}/{name}_cpu.png"), np.int16)
    b = np.asarray(Image.open(f"{out}/{name}_{dev}.png"), np.int16)
    d = np.abs(a - b)
    print(f"{name}: cpu vs {dev}: max difference {d.max()} levels, mean {d.mean():.3f}")
PY
