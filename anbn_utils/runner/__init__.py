"""The papermill runner of the book, by concern (``python -m anbn_utils.run`` is its CLI).

Data flow, one way: a profile is loaded and checked (:mod:`.profiles`, :mod:`.schema`),
the dataset is prepared or fingerprinted (:mod:`.datasets`) and checked before compute
(:mod:`.preflight`), the run directory is locked (:mod:`.lock`), and each stage is hashed
and either skipped or executed (:mod:`.stages`, :mod:`.state`, :mod:`.execute`).

This file imports nothing on purpose: every notebook imports :mod:`.schema`, and a stage's
hash covers the package modules its notebook imports (their import closure), so importing
the whole runner here would make any runner edit re-run every stage.
"""
