#!/usr/bin/env bash
# Fine-tune the shipped fast styles on a GPU: several (style, style weight) variants at once, each
# resumed from its committed CPU checkpoint (training/styles/<name>.ckpt.safetensors) with bigger
# batches and crops, and a wall-clock budget of MINUTES for this run (the cosine schedule is
# re-planned to end inside it). A third field adds input noise: "shipwreck:48:0.05" trains
# style weight 48 with noise of sigma 0.05 on the net's input (written as *_sw48_n0.05.*); a
# fourth deepens the net: "shipwreck:48:0.05:5" grows it to 5 residual blocks (*_sw48_n0.05_b5.*).
# Nothing is overwritten: every variant writes
# $WORK/<name>_sw<weight>.{safetensors,ckpt.safetensors,log,out,_preview.png}; compare them with
# `benchmarks/bench_fast_style.py --quality` and copy the chosen one into place by hand.
#   VARIANTS="shipwreck:32 shipwreck:64" MINUTES=7 bash training/train_styles_gpu.sh
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python3}
PHOTOS=${PHOTOS:-../shared/data/train/sun_hays80}
PAINTINGS=${PAINTINGS:-"../shared/data/style ../shared/data/style_fast"}
MODELS=${MODELS:-../shared/models}
PREVIEW=${PREVIEW:-../shared/data/content/golden_gate.jpg}
WORK=${WORK:-training/styles/gpu}
MINUTES=${MINUTES:-7}
BATCH=${BATCH:-16}
SIZE=${SIZE:-256}
LR=${LR:-3e-4}  # a fine-tune: the first GPU try restarted at 1e-3 and wrecked the nets
THREADS=${THREADS:-1}
DEVICE=${DEVICE:-cuda}
VARIANTS=${VARIANTS:-"starry_night:32 the_scream:32 shipwreck:48 wave:24"}
mkdir -p "$WORK"

pids=()
for variant in $VARIANTS; do
    IFS=: read -r name weight noise blocks <<< "$variant"
    noise=${noise:-0}
    id="${name}_sw${weight}"
    [ "$noise" != 0 ] && id="${id}_n${noise}"
    deepen=()
    [ -n "$blocks" ] && id="${id}_b${blocks}" && deepen=(--blocks "$blocks")
    painting=""
    for folder in $PAINTINGS; do
        [ -z "$painting" ] && [ -f "$folder/$name.jpg" ] && painting="$folder/$name.jpg"
    done
    if [ -z "$painting" ]; then
        echo "no painting $name.jpg in $PAINTINGS" >&2
        continue
    fi
    [ -f "$WORK/$id.ckpt.safetensors" ] || cp "training/styles/$name.ckpt.safetensors" \
        "$WORK/$id.ckpt.safetensors"
    # --minutes is the style's whole training time: what its checkpoint already spent + MINUTES.
    total=$($PY -c "
import json, sys
from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f:
    spent = json.loads((f.metadata() or {}).get('progress', '{}')).get('train_seconds', 0.0)
print(spent / 60 + float(sys.argv[2]))" "$WORK/$id.ckpt.safetensors" "$MINUTES")
    echo "$(date -u +%FT%TZ) start $id ($MINUTES min, batch $BATCH, crops $SIZE)"
    # SIGTERM past the budget: the trainer checkpoints and stops.
    timeout -s TERM -k 60 "$($PY -c "print(round(float('$MINUTES') * 60 + 90))")" \
        $PY -m editor.engine.train_style "$painting" --images "$PHOTOS" \
        -o "$WORK/$id.safetensors" --checkpoint "$WORK/$id.ckpt.safetensors" --resume \
        --style-weight "$weight" --input-noise "$noise" "${deepen[@]}" --batch "$BATCH" --size "$SIZE" \
        --lr "$LR" --steps 1000000 --minutes "$total" --device "$DEVICE" --threads "$THREADS" \
        --models-dir "$MODELS" --preview-image "$PREVIEW" > "$WORK/$id.out" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=$?
done
echo "$(date -u +%FT%TZ) all done (last failure status $status)"
exit "$status"
