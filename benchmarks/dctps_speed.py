"""Fast DCTpS speed and size (issue 5 §2–§3): the same measurement as ``sparseinit bench dctps``.

    /tmp/quiet .venv/bin/python benchmarks/dctps_speed.py --widths 1024 4096 --json results/speed/dctps.json \\
        --markdown results/speed/dctps.md --plot results/speed/dctps.png --overwrite

All options are those of ``sparseinit bench dctps --help`` (library: sparseinit.layers.dctps_benchmark).
"""

from __future__ import annotations

import sys

from sparseinit.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "dctps", *sys.argv[1:]]))
