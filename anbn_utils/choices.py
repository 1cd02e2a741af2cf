"""The values that categorical parameters take, in one light module.

The modules that implement them import these tuples, and so does the parameter schema
(:mod:`anbn_utils.runner.schema`), which every notebook imports: keeping them here keeps
that schema's import closure small, so editing, say, the VS-DBN does not re-run every
stage of the book.
"""

__all__ = ["AGGREGATIONS", "AN_SURROGATES", "AN_UNITS", "BETWEEN_LAYERS", "BN_METHODS", "BN_PAIRINGS",
           "BOLD_SURROGATES", "HRF_MODELS", "MODEL_DTYPES", "NUISANCE_MODELS", "NULL_MODELS",
           "TASKS", "WORD_ORDERS"]

#: Narratives tasks this project knows.  ``shapessocial`` is the default "Shapes" of the
#: paper (its 910 words match); ``shapesphysical`` has the paper's 270 volumes.
TASKS = ("pieman", "shapessocial", "shapesphysical")
#: Types of a model's weights (``model_dtype``): ``auto`` is the checkpoint's own.
MODEL_DTYPES = ("float32", "bfloat16", "float16", "auto")
#: What one AN of a head is: one query/key dimension (the paper), or the two dimensions a
#: rotary embedding turns together, summed (their product depends on the distance between
#: the tokens only).
AN_UNITS = ("dimension", "rotary_pair")
#: Per-TR aggregations of an AN's query-key products.
AGGREGATIONS = ("mean", "absmean", "max", "min")
#: Hemodynamic response models.
HRF_MODELS = ("spm", "glover", "none")
#: Brain-network decompositions: the paper's VS-DBN and nilearn's baselines.
BN_METHODS = ("vsdbn", "canica", "dictlearning")
#: What the next VS-DBN layer reads.
BETWEEN_LAYERS = ("rownorm", "zscore", "sigmoid")
#: Null models of the coupling permutation tests.
NULL_MODELS = ("shuffle", "circular", "phase")
#: Word order of the story the model reads: the story's, or the shuffled-story control.
WORD_ORDERS = ("original", "shuffled")
#: Whose BN time courses each story's ANs are coupled with: its own, or the other story's.
BN_PAIRINGS = ("matched", "crossed")
#: Surrogates of the AN series coupled instead of them (a control; None: the series).
AN_SURROGATES = ("phase",)
#: Surrogates of the BOLD (a null at the data's shape; None: the recorded BOLD).
BOLD_SURROGATES = ("phase",)
#: What the coupling does with the ANs' nuisance regressors (token and word counts, speech,
#: position in the model's segment): nothing, regress them out of the ANs, or out of the
#: ANs and the BNs (whose randomized copies are then residualized too).
NUISANCE_MODELS = ("none", "regress", "regress_both")
