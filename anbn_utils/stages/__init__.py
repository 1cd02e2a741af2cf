"""The pipeline's stages as package functions with typed results.

Each module holds one stage: ``run_<stage>(...) -> <Stage>Result``, a dataclass whose
``save(folder)`` writes what the later stages, the verdict and the comparisons read (the
package owns every such file; no notebook cell writes one, which
``tests/test_notebooks.py`` checks).  Its parameters are a frozen ``<Stage>Parameters``
read from the notebook's parameter cell (``from_mapping(globals())``).  ``save`` ends with
the folder's record (``result.json``: the stage, its file-format version, the parameters);
``<Stage>Result.load(folder)`` reads a folder back, and every stage function checks the
folders it reads (:func:`.formats.require`): a folder of another format version is refused
with the command that recomputes it.  04_coupling's record is its ``summary.json``
(:func:`.formats.load_coupling_summary`).  The notebooks call these functions, then plot
and explain.  ``00_phantom`` and ``07_verdict`` compute nothing
that another stage reads and have none.

======================  ====================================================================
module                  stage
======================  ====================================================================
:mod:`.data`            ``01_data``: :func:`~.data.run_data`, :class:`~.data.DataResult`
:mod:`.ans`             ``02_ans``: :func:`~.ans.run_ans`, :class:`~.ans.AnsResult`
:mod:`.bns`             ``03_bns``: :func:`~.bns.run_bns`, :class:`~.bns.BnsResult`
:mod:`.coupling`        ``04_coupling``: :func:`~.coupling.run_coupling`,
                        :class:`~.coupling.CouplingResult`
:mod:`.pos`             ``05_pos``: :func:`~.pos.run_pos`, :class:`~.pos.PosResult`
:mod:`.layers`          ``06_layers``: :func:`~.layers.run_layers`,
                        :class:`~.layers.LayersResult`
======================  ====================================================================
"""
