"""`python -m scripts.demo --out DIR`: the offline demo from a clone; the same as `evit demo --out DIR`
(evit/demo.py, installed with the package)."""
from __future__ import annotations

import sys

from evit.demo import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m scripts.demo"))
