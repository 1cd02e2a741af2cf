"""Types and ranges of every notebook parameter: one schema for the whole book.

The notebooks' ``parameters`` cells declare the names, defaults and help texts; this
module says what values each name takes.  The runner checks a profile against it when the
profile is loaded (before any compute), and every notebook checks the values it received
in its first cell, so ``papermill -p`` runs outside the runner are checked too (and a name
the notebook does not declare is an error there, not papermill's warning).

Validation uses pydantic in strict mode: ``n_epochs="abc"``, ``n_epochs=True`` or
``n_hidden=5`` (a number where a list of numbers is expected) are errors; an ``int`` is
accepted where a ``float`` is expected.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from ..choices import (
    AGGREGATIONS,
    AN_SURROGATES,
    AN_UNITS,
    BETWEEN_LAYERS,
    BN_METHODS,
    BN_PAIRINGS,
    BOLD_SURROGATES,
    HRF_MODELS,
    MODEL_DTYPES,
    NUISANCE_MODELS,
    NULL_MODELS,
    TASKS,
    WORD_ORDERS,
)
from ..errors import ParameterError

__all__ = ["PARAMETERS", "check_notebook_parameters", "problems", "raise_problems",
           "validate_params"]


def _unique(values: list) -> list:
    if len(set(map(str, values))) != len(values):
        raise ValueError("values must not repeat")
    return values


def _nonzero(n: int) -> int:
    if n == 0:
        raise ValueError("must not be 0 (joblib: 1 worker, -1 all cores)")
    return n


PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
Text = Annotated[str, Field(min_length=1)]
Task = Literal[TASKS]
Subject = Annotated[str, Field(pattern=r"^sub-[0-9A-Za-z]+$")]


def _choices(values: tuple[str, ...]) -> Any:
    return Literal[values]


def _list_of(item: Any, *, unique: bool = False) -> Any:
    kind = Annotated[list[item], Field(min_length=1)]
    return Annotated[kind, AfterValidator(_unique)] if unique else kind


#: name -> type (with its range) of every parameter any notebook declares.
PARAMETERS: dict[str, Any] = {
    # set by the runner
    "run_dir": Text,
    "stage_dir": Text | None,
    # data (00, 01)
    "dataset_root": Text | None,
    "cache_dir": Text | None,
    "n_jobs": Annotated[int, AfterValidator(_nonzero)],
    "tasks": _list_of(Task, unique=True),
    "exclude": bool,
    "subjects": dict[Task, _list_of(Subject, unique=True)] | None,
    "n_subjects": PosInt | None,
    "seed": NonNegInt,
    "duration_rounding": Literal["ceil", "round"],
    "initial_trim": NonNegInt,
    "word_anchor": Literal["end", "start", "mid"],
    "words_outside": Literal["clip", "error"],
    "alignment": Literal["json", "csv"],
    "example_subject": Subject | None,
    "common_grid": Task | None,
    "bold_surrogate": _choices(BOLD_SURROGATES) | None,
    # artificial neurons (02)
    "model": Text,
    "model_dtype": _choices(MODEL_DTYPES),
    "device": Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")],
    "aggregation": _choices(AGGREGATIONS),
    "an_unit": _choices(AN_UNITS),
    "pairs": Literal["all", "causal"] | None,
    "include_bias": bool,
    "hrf_model": _choices(HRF_MODELS),
    "top_k": PosInt,
    "segmentation": Literal["greedy", "balanced"],
    "split_long_sentences": bool,
    "max_tokens": Annotated[int, Field(ge=3)] | None,
    "fig2_sentence": Text,
    "fig2_layer": PosInt,
    "fig2_head": PosInt,
    "example_ans": _list_of(Annotated[str, Field(pattern=r"^L\d+H\d+[DP]\d+$")]) | None,
    "compare_models": list[Text],
    "word_order": _choices(WORD_ORDERS),
    # brain networks (03)
    "bn_method": _choices(BN_METHODS),
    "n_hidden": _list_of(PosInt),
    "learning_rate": _list_of(PosFloat),
    "l1": _list_of(NonNegFloat),
    "n_epochs": PosInt,
    "batch_size": PosInt,
    "init_std": PosFloat,
    "noise_std": NonNegFloat,
    "positive_phase": Literal["sample", "prob"],
    "between_layers": _choices(BETWEEN_LAYERS),
    "n_components": PosInt,
    "bn_layer": PosInt | None,
    "map_threshold": Fraction,
    "n_maps_shown": PosInt,
    "example_bn": Annotated[str, Field(pattern=r"^BN[1-9]\d*$")] | None,
    "fit_half": Annotated[int, Field(ge=1, le=2)] | None,
    "bn_seed": NonNegInt | None,
    # coupling (04)
    "nulls": _list_of(_choices(NULL_MODELS), unique=True),
    "n_permutations": PosInt,
    "mode": Literal["signed", "abs"],
    "alphas": _list_of(Annotated[float, Field(gt=0, lt=1)], unique=True),
    "pcc_threshold": Annotated[float, Field(ge=-1, le=1)],
    "min_shift": PosInt,
    "fdr_tail": bool,
    "nuisance": _choices(NUISANCE_MODELS),
    "compare_run_dir": Text | None,
    "null_run_dir": Text | None,
    "bn_pairing": _choices(BN_PAIRINGS),
    "an_surrogate": _choices(AN_SURROGATES) | None,
    "predictive_check": bool,
    "ridge_folds": Annotated[int, Field(ge=2)],
    "ridge_gap": NonNegInt,
    "partition_shifts": PosInt | None,
    "claim_null": Literal["circular", "phase"],
    "claim_boot": PosInt,
    "claim_block": PosInt,
    # the verdict (07)
    "study_run_dir": Text | None,
    "control_variants": list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
    "method_variants": list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
    "model_variants": list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
    "half_pairs": list[Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
                                 Field(min_length=2, max_length=2)]],
    "seed_variants": list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
    "canica_seed_variants": list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]],
    # parts of speech (05)
    "spacy_model": Text | None,
    "exemplar_layers": _list_of(PosInt, unique=True),
    # layers (06)
    "explorer_ans": PosInt,
}

_ADAPTERS = {name: TypeAdapter(kind) for name, kind in PARAMETERS.items()}
#: Parameters that take one value per VS-DBN layer.
_PER_LAYER = ("n_hidden", "learning_rate", "l1")


def _message(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"] if not str(p).startswith(("function-", "list[")))
        parts.append(f"{e['msg']}{f' (at {where})' if where else ''}")
    return "; ".join(parts)


def problems(params: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``params`` (name -> value, any subset of :data:`PARAMETERS`):
    each value against its type and range, and the values against each other."""
    problems = []
    for name, value in params.items():
        if name not in _ADAPTERS:
            problems.append(f"{name}: no notebook declares it")
            continue
        try:
            _ADAPTERS[name].validate_python(value, strict=True)
        except ValidationError as e:
            problems.append(f"{name}={value!r}: {_message(e)}")
    given = [n for n in _PER_LAYER if isinstance(params.get(n), list)]
    if len({len(params[n]) for n in given}) > 1:
        problems.append("n_hidden, learning_rate and l1 need one value per VS-DBN layer; got "
                        + ", ".join(f"{n}={params[n]!r}" for n in given))
    nulls, b, alphas = params.get("nulls"), params.get("n_permutations"), params.get("alphas")
    if isinstance(nulls, list) and {"shuffle", "phase"} & set(nulls) and isinstance(b, int) \
            and isinstance(alphas, list) and alphas and all(isinstance(a, float) for a in alphas) \
            and (1 + b) * min(alphas) < 1:
        problems.append(f"n_permutations={b} cannot resolve alpha={min(alphas)} (of alphas): a "
                        f"permutation p-value is at least 1/{1 + b}; use at least "
                        f"{math.ceil(1 / min(alphas)) - 1}")
    grid, tasks = params.get("common_grid"), params.get("tasks")
    if grid is not None and isinstance(tasks, list) and grid not in tasks:
        problems.append(f"common_grid={grid!r} is not one of tasks={tasks!r}")
    return problems


def raise_problems(found: list[str], where: str = "") -> None:
    """A :class:`ParameterError` listing ``found`` (what :func:`problems` returns), if any."""
    if found:
        head = f"invalid parameter(s){f' in {where}' if where else ''}:"
        raise ParameterError("\n  ".join([head, *found])
                             + "\nSee the parameter tables on the book's 'How to run' page.")


def validate_params(params: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Check values against :data:`PARAMETERS` and each other; return them unchanged.

    Raises
    ------
    ParameterError
        Listing every bad value with what it should be; ``where`` (a profile, a stage) is
        named in the message.
    """
    raise_problems(problems(params), where)
    return dict(params)


#: IPython's own names in a kernel's namespace.
_KERNEL_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}
_DATA_TYPES = (str, int, float, bool, list, dict, tuple, type(None), os.PathLike)


def check_notebook_parameters(stage: str, namespace: Mapping[str, Any]) -> None:
    """In a notebook's first code cell: check the parameters it runs with.

    ``namespace`` is the notebook's ``globals()``.  Every plain value (str, number, list,
    dict, None) defined at that point is either a parameter the stage declares or one
    papermill injected (``-p NAME VALUE``) that the stage does not declare: the latter is
    an error (papermill only warns, and the value would be ignored).  The declared ones
    are validated with :func:`validate_params`.
    """
    from .stages import declared_parameters, stage_named

    declared = declared_parameters([stage_named(stage)])[stage]
    undeclared = sorted(n for n, v in namespace.items()
                        if not n.startswith("_") and n not in _KERNEL_NAMES
                        and n not in declared and isinstance(v, _DATA_TYPES))
    if undeclared:
        raise ParameterError(
            f"{stage}: parameter(s) {undeclared} are not declared by this notebook (a typo in "
            f"`papermill -p`?). Its parameters are: {', '.join(declared)}")
    validate_params({n: namespace[n] for n in declared if n in namespace}, where=stage)
