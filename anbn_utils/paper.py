"""What the paper reports, quoted once: the book and the comparisons read it from here.

Liu et al., *Coupling Artificial Neurons in BERT and Biological Neurons in the Human
Brain*, AAAI 2023.  :data:`REPORTED` holds the paper's description of its data and
settings that the ``paper`` profile (``anbn_utils/profiles/paper.yaml``) cannot hold as a
parameter (the VS-DBN's settings are that profile's), :data:`COUPLING` its headline coupling
results at its level :data:`ALPHA`.  These are quotations, not results of this project.
"""

from __future__ import annotations

__all__ = ["ALPHA", "COUPLING", "POOLED_VOLUMES", "REPORTED"]

#: The paper's data and settings, as it states them (section in brackets).
REPORTED = {
    "data": {  # Data and preprocessing
        "pieman": {"subjects_total": 82, "subjects_selected": 75, "volumes": 282},
        "shapes": {"words": 910, "volumes": 270, "subjects": 59},
    },
    "ans": {  # ANs and their temporal activations
        "n_ans": 9216,  # BERT-base: 12 layers x 12 heads x 64 dimensions
        "max_tokens": 512,
        "segment_tokens": {"pieman": [505, 468, 254], "shapes": [411, 416, 268]},
        "top_k": 500,  # query-key pairs per AN and segment
    },
    "coupling": {"n_randomizations": 5000},  # Synchronized activations
    "pos": {  # Part of speech, Fig. 6-7
        "n_categories": 15,  # part-of-speech categories, plus [CLS] and [SEP]
        "top_pairs_per_an": 1500,  # the top pairs of the three segments
        "pcc_threshold": 0.25,  # Fig. 4 (c-d), and the anchors counted in Fig. 6
    },
}

#: The paper's pooled training volumes for the VS-DBN: every selected subject's story
#: volumes, Pie Man and Shapes.
POOLED_VOLUMES = sum(REPORTED["data"][s][n] * REPORTED["data"][s]["volumes"]
                     for s, n in (("pieman", "subjects_selected"), ("shapes", "subjects")))

#: The paper's significance level: p < 0.01 after FDR correction.
ALPHA = 0.01

#: Headline coupling results of the paper (BERT-base, Narratives Pie Man / Shapes, VS-DBN
#: 128 BNs), significance at :data:`ALPHA`.
COUPLING = {
    "pieman": {"ans_significant_pct": 99.57, "bn_max_pcc_mean": 0.4364, "bn_max_pcc_sd": 0.0473,
               "bns_significant": 128, "n_bns": 128, "alpha": ALPHA},
    "shapessocial": {"ans_significant_pct": 98.71, "bn_max_pcc_mean": 0.4422,
                     "bn_max_pcc_sd": 0.0592, "bns_significant": 128, "n_bns": 128,
                     "alpha": ALPHA},
}
