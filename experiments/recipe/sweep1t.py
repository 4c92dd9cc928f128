"""`sparseinit sweep` with one torch thread per run (the CLI's sweep uses cpu_count // workers threads,
which oversubscribes this shared 2-core machine).  Same arguments as `sparseinit sweep`:
    OMP_NUM_THREADS=1 .venv/bin/python experiments/recipe/sweep1t.py sweep FILE.toml --out DIR --workers 1
"""

import os
import sys

os.cpu_count = lambda: 1

from sparseinit.cli import main  # noqa: E402

sys.exit(main())
