"""Train the project's shipped fast styles: `semedit train-style` with the repository defaults.

    .venv/bin/python tools/train_style.py ../shared/data/style/the_scream.jpg --minutes 22 --resume

Photos come from ../shared/data/train/sun_hays80; checkpoints, logs and previews go to
training/styles/ and the weights to editor/resources/models/styles/<name>.safetensors.
See training/README.md for how the shipped styles were made.
"""

import sys

from editor.engine.train_style import main

if __name__ == "__main__":
    sys.exit(main(project=True))
