"""Run the book's notebooks in order with papermill, for one profile.

::

    python -m anbn_utils.run --profile phantom            # the default book
    python -m anbn_utils.run --profile paper --check      # is everything there? (seconds)
    python -m anbn_utils.run --profile paper --run-dir /data/runs/paper
    python -m anbn_utils.run --profile my.yaml --stage 01_data --force 01_data
    python -m anbn_utils.run --profile paper-synthetic --set n_epochs=1 --set dataset.n_subjects=4

The runner lives in :mod:`anbn_utils.runner` (one module per concern); this module is its
command line and re-exports the Python API.
"""

import sys

from .runner.cli import main
from .runner.execute import check, publish_notebooks, run
from .runner.stages import BOOK_EXECUTED_DIR, NOTEBOOK_DIR, REPO_ROOT, STAGES, Stage

__all__ = ["BOOK_EXECUTED_DIR", "NOTEBOOK_DIR", "REPO_ROOT", "STAGES", "Stage", "check", "main",
           "publish_notebooks", "run"]

if __name__ == "__main__":
    sys.exit(main())
