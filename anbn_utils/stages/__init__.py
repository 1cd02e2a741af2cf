"""The pipeline's stages as package functions with typed results.

Each module holds one stage: ``run_<stage>(run_dir, params) -> <Stage>Result``, a
dataclass whose ``save(folder)`` writes the stage's files and whose loader reads them back
for the later stages, refusing a folder written in another format version.  The
notebooks call these functions, then plot and explain.

======================  ====================================================================
module                  stage
======================  ====================================================================
:mod:`.coupling`        ``04_coupling``: :func:`~.coupling.run_coupling`,
                        :class:`~.coupling.CouplingResult`
======================  ====================================================================
"""
