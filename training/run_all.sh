#!/usr/bin/env bash
# Train the shipped upscalers one after another on ONE core (the machine is shared):
# x2, then x4, then x3. Each stage has a training-time budget (the cosine schedule is re-planned
# to fit it) and ships its weights to editor/resources/models/ at every checkpoint that improves
# on the held-out photos, so killing this at any moment leaves usable weights.
# Re-running it resumes every stage from training/checkpoints/ (a finished stage only re-scores).
# A stage stopped by a signal (exit code > 128) ends the whole run instead of starting the next.
#   nohup bash training/run_all.sh > training/logs/run_all.out 2>&1 &
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
X2_MIN=${X2_MIN:-34}
X4_MIN=${X4_MIN:-36}
X3_MIN=${X3_MIN:-26}
mkdir -p training/logs training/checkpoints
for stage in "2 $X2_MIN" "4 $X4_MIN" "3 $X3_MIN"; do
    set -- $stage
    echo "$(date -u +%FT%TZ) start x$1 ($2 min)"
    $PY tools/train_upscaler.py --scale "$1" --minutes "$2" --threads 1 --resume \
        > "training/logs/sr_x$1.out" 2>&1
    rc=$?
    echo "$(date -u +%FT%TZ) end x$1 rc=$rc"
    if [ "$rc" -gt 128 ]; then
        exit "$rc"
    fi
done
