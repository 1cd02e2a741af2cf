"""Does the paper hold?  Its claims measured on runs, each against its own null, and verdicts
that contrast the real run with the null phantom and the controls.

- :mod:`~anbn_utils.verdict.replicates`   the claims' statistics on a story, observed, on the
  null's randomizations of the BNs and on moving-block bootstrap resamples (04_coupling
  writes them)
- :mod:`~anbn_utils.verdict.claims`       the claims (:data:`CLAIMS`) and their rules:
  reproduced, not reproduced or untested
- :mod:`~anbn_utils.verdict.table`        comparability of runs, contrasts, verdicts, the
  claims table
- :mod:`~anbn_utils.verdict.calibration`  the whole verdict on simulated runs: how often each
  claim holds without coupling and with it
"""

from .claims import (
                     CLAIMS,
                     NOT_REPRODUCED,
                     REPRODUCED,
                     UNTESTED,
                     Claim,
                     Contrast,
                     Measurement,
                     Rules,
                     RunResult,
                     anchored_tag_distance,
                     contrast,
                     layer_slope,
                     load_run,
                     own_null_p,
                     share_contrast,
                     story_difference_test,
)
from .replicates import (
                     FIELDS,
                     KINDS,
                     ClaimReplicates,
                     check_replicate_options,
                     claim_replicates,
                     load_replicates,
                     save_replicates,
)
from .table import (
                     COMPARED_PARAMETERS,
                     NULL_NAME,
                     REQUIRED_CONTROLS,
                     VERDICTS,
                     claims_table,
                     comparability,
                     verdict,
                     verdict_counts,
)

__all__ = ["CLAIMS", "COMPARED_PARAMETERS", "FIELDS", "KINDS", "NOT_REPRODUCED", "NULL_NAME",
           "REPRODUCED", "REQUIRED_CONTROLS", "UNTESTED", "VERDICTS", "Claim", "ClaimReplicates",
           "Contrast", "Measurement", "Rules", "RunResult", "anchored_tag_distance",
           "check_replicate_options", "claim_replicates", "claims_table", "comparability",
           "contrast", "layer_slope", "load_replicates", "load_run", "own_null_p",
           "save_replicates", "share_contrast", "story_difference_test", "verdict", "verdict_counts"]
