import sys

from editor.app import main

if __name__ == "__main__":  # a batch's worker processes import this module too ('spawn')
    sys.exit(main())
