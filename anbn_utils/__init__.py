"""anbn_utils: couple artificial neurons of transformers with brain networks from fMRI.

The package holds all computation of the *anbn* book; the notebooks in ``notebooks/``
call it, plot and explain.  Modules, one concern each:

- :mod:`anbn_utils.config`      data locations, profiles and parameter validation
- :mod:`anbn_utils.io`          atomic writes and artifact readers/writers
- :mod:`anbn_utils.run`         the papermill runner (``python -m anbn_utils.run``)
- :mod:`anbn_utils.narratives`  the Narratives dataset: layout, BOLD, transcripts, download
- :mod:`anbn_utils.synthetic`   small datasets in the exact Narratives layout (tests, default)
- :mod:`anbn_utils.plotting`    figures
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
