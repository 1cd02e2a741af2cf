"""Unit identifiers: BN display names, parsing a user's BN name, the layer of each AN."""

import numpy as np
import pytest

from anbn_utils.errors import DataError, ParameterError
from anbn_utils.units import an_layers, bn_index, bn_name, bn_names


def test_bn_names_are_one_based_and_read_back():
    assert bn_name(0) == "BN1" and bn_name(np.int64(15)) == "BN16"
    assert bn_names(3) == ["BN1", "BN2", "BN3"]
    assert [bn_index(name, 16) for name in bn_names(16)] == list(range(16))


@pytest.mark.parametrize("name", ["BN0", "BN17", "bn3", "3", "BN", "BN-1", "BN3x"])
def test_bad_bn_names_are_rejected_not_wrapped(name):
    """``int("BN0"[2:]) - 1`` was -1: the last BN, silently."""
    with pytest.raises(ParameterError, match=r"example_bn=.*'BN1' \.\. 'BN16'"):
        bn_index(name, 16)


def test_an_layers_are_layer_major_blocks():
    np.testing.assert_array_equal(an_layers(6, 3), [0, 0, 1, 1, 2, 2])
    with pytest.raises(DataError, match="7 ANs cannot be split into 3 layers"):
        an_layers(7, 3)
