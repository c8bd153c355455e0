"""Train the project's shipped upscalers: `semedit train-upscaler` with the repository defaults.

    .venv/bin/python tools/train_upscaler.py --scale 2 --minutes 34 --threads 1 --resume

Photos come from ../shared/data/train/sun_hays80, checkpoints go to training/checkpoints/, logs to
training/logs/ and the weights to editor/resources/models/upscaler_x{S}.safetensors.
See training/README.md for how the shipped weights were made.
"""

import sys

from editor.engine.train_upscaler import main

if __name__ == "__main__":
    sys.exit(main(project=True))
