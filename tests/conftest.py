"""Shared fixtures: small datasets in the exact Narratives layout, made once per session."""

from __future__ import annotations

import pytest

from anbn_utils.synthetic import make_narratives_like


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """Pie Man (sub-001..003, two runs each) and Shapes-social (sub-201..203) on a tiny grid."""
    return make_narratives_like(tmp_path_factory.mktemp("tiny"), n_subjects=3, random_state=1)


@pytest.fixture(scope="session")
def pieman82_root(tmp_path_factory):
    """All 82 Pie Man subjects (14 with two runs) on a 2x2x2 grid, with the real exclusions."""
    return make_narratives_like(tmp_path_factory.mktemp("pieman82"), tasks=("pieman",),
                                n_subjects=82, shape=(2, 2, 2), random_state=2)


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"
