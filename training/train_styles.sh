#!/usr/bin/env bash
# Train the shipped fast styles one after another on ONE core (the machine is shared):
# starry_night, the_scream, shipwreck, wave. Each has a training-time budget (the cosine schedule
# is re-planned to fit it) and writes its weights to editor/resources/models/styles/ at every
# checkpoint (~2 min), so killing this at any moment leaves usable weights.
# Re-running it resumes every style from training/styles/*.ckpt.safetensors (a finished style
# only re-writes its weights). A style stopped by a signal (exit code > 128) ends the whole run.
#   nohup bash training/train_styles.sh > training/styles/train_styles.out 2>&1 &
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MINUTES=${MINUTES:-22}
STYLES=${STYLES:-"../shared/data/style/starry_night.jpg ../shared/data/style/the_scream.jpg ../shared/data/style/shipwreck.jpg ../shared/data/style_fast/wave.jpg"}
mkdir -p training/styles
for style in $STYLES; do
    name=$(basename "$style" .jpg)
    echo "$(date -u +%FT%TZ) start $name ($MINUTES min)"
    $PY tools/train_style.py "$style" --minutes "$MINUTES" --steps 1400 --threads 1 --resume \
        > "training/styles/$name.out" 2>&1
    rc=$?
    echo "$(date -u +%FT%TZ) end $name rc=$rc"
    if [ "$rc" -gt 128 ]; then
        exit "$rc"
    fi
done
