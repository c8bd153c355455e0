import multiprocessing
import sys

from editor.app import main

if __name__ == "__main__":  # a batch's worker processes import this module too ('spawn')
    # In the frozen app (PyInstaller) a 'spawn' worker is this same executable started with
    # multiprocessing's arguments: freeze_support() runs the worker and exits. A no-op otherwise.
    multiprocessing.freeze_support()
    sys.exit(main())
