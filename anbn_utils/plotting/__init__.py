"""Figures of the book, one module per chapter.  Each ``plot_*`` function returns the
matplotlib figure it drew (``plot_category_heatmap`` the axes it drew into);
``text_heatmap_html`` and ``explorer_html`` return HTML.

- :mod:`~anbn_utils.plotting._base`     shared style (``WIDTH``, ``SMALL``) and one colour bar
  for a mosaic of maps
- :mod:`~anbn_utils.plotting.data`      01_data: the transcript on the TR grid
- :mod:`~anbn_utils.plotting.ans`       02_ans: the q x k decomposition, AN heatmaps,
  examples and distributions, what the nuisance regressors explain
- :mod:`~anbn_utils.plotting.networks`  00_phantom, 03_bns: network maps, time courses,
  subject-averaged BN time courses
- :mod:`~anbn_utils.plotting.coupling`  04_coupling: Fig. 4, Fig. 5, out-of-sample R^2 per BN,
  the calibration of the coupling tests
- :mod:`~anbn_utils.plotting.pos`       05_pos: category heatmaps, anchor counts,
  over-representation, top categories, exemplars, the text heatmap (HTML)
- :mod:`~anbn_utils.plotting.layers`    06_layers: the best pairs' tags, the best pairs (maps
  and time courses), peak slices
- :mod:`~anbn_utils.plotting.explorer`  06_layers: the pair explorer (static HTML, its script
  ``explorer.js``, nilearn's offline map viewer)
- :mod:`~anbn_utils.plotting.verdict`   07_verdict: layer curves, distributions of the ANs'
  maximal PCC, BN methods side by side, the claims table, the verdicts' calibration, split
  halves, the predictive check per run

This package imports none of them: import a figure from its module
(``from anbn_utils.plotting.coupling import plot_fig4``).  The runner keys each stage by the
source its notebook's imports reach (:mod:`anbn_utils.codehash`), so a chapter depends on its
own module and ``_base`` (06_layers also on ``pos``, whose top-category panels it draws), not
on the figures of the others.
"""
