"""anbn_utils: couple artificial neurons of transformers with brain networks from fMRI.

The package holds all computation of the *anbn* book; the notebooks in ``notebooks/``
call it, plot and explain.  Modules, one concern each (``tests/test_package_docstring.py``
checks that every module is listed here):

- :mod:`anbn_utils.narratives`  the Narratives dataset: layout, BOLD, transcripts, download
- :mod:`anbn_utils.ans`         artificial neurons: query/key capture, tokens on the TR grid,
  activations, top pairs, nuisance regressors (token count, speech, position in the segment)
- :mod:`anbn_utils.bns`         brain networks: the VS-DBN, nilearn baselines, maps, labels
- :mod:`anbn_utils.coupling`    synchronization, anchors, the significance of one story
  (statistics), its summaries and tables, its files
- :mod:`anbn_utils.inference`   exact randomization nulls, family-wise max statistic, tail
  p-values for FDR, the calibration study
- :mod:`anbn_utils.series`      the series a story's coupling reads: pairing, nuisance
  regression, surrogates
- :mod:`anbn_utils.controls`    controls (untrained model, shuffled story, crossed stories,
  phase-randomized ANs): which a run switches on, and how its chapters say so
- :mod:`anbn_utils.stats`       the one z-score, permutation p-values
- :mod:`anbn_utils.interpret`   the paper's read-outs: most-anchored BN, best pairs, exemplars
- :mod:`anbn_utils.explorer`    the pair explorer's data (chapter 06): what a run knows of its
  leading ANs and every BN, per story
- :mod:`anbn_utils.units`       names of ANs and BNs (``L8H2D51``, ``BN89``) and their indices
- :mod:`anbn_utils.pos`         part-of-speech tags of tokens and ANs
- :mod:`anbn_utils.plotting`    figures, one module per chapter
- :mod:`anbn_utils.figures`     the registry of the book's figures (paper figure, stage, title) and
  their captions
- :mod:`anbn_utils.phantom`     the phantom: simulated data with planted couplings and truth
- :mod:`anbn_utils.recovery`    scoring what the pipeline recovered against that truth
- :mod:`anbn_utils.predictive`  the predictive check: blocked cross-validated ridge from ANs to BNs,
  variance partitioning against nuisance regressors (banded ridge, shift null, R^2 contrasts)
- :mod:`anbn_utils.reliability` split halves of subjects; agreement of two runs, seed stability
- :mod:`anbn_utils.synthetic`   small datasets in the exact Narratives layout (tests, phantom)
- :mod:`anbn_utils.paper`       what the paper reports, quoted once
- :mod:`anbn_utils.stages`      the stages as functions with typed results that own their files
  (``04_coupling`` so far), and the readers of those files
- :mod:`anbn_utils.run`         the runner's command line (``python -m anbn_utils.run``)
- :mod:`anbn_utils.study`       studies: variants of a profile, shared stages, Dask
- :mod:`anbn_utils.comparisons` runs side by side: BN methods, models, controls (chapter 07)
- :mod:`anbn_utils.verdict`     the paper's claims, each against the run's own null; contrasts with the
  null phantom and controls; the verdicts and their calibration
- :mod:`anbn_utils.runner`      the runner: profiles, parameter schema, preflight checks,
  stage hashing, locks, papermill execution
- :mod:`anbn_utils.choices`     the values categorical parameters take
- :mod:`anbn_utils.config`      data locations and the compute device
- :mod:`anbn_utils.codehash`    which package source a computation depends on, and its hash
- :mod:`anbn_utils.assets`      pretrained assets installed from the package registries
- :mod:`anbn_utils.io`          atomic writes and artifact readers/writers
- :mod:`anbn_utils.errors`      exceptions that name the offending file and the fix
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
