"""The package docstring lists every module of the package (it listed 6 of 14)."""

import pkgutil
import re

import anbn_utils


def test_every_module_is_listed_in_the_package_docstring():
    listed = set(re.findall(r":mod:`anbn_utils\.(\w+)`", anbn_utils.__doc__))
    modules = {m.name for m in pkgutil.iter_modules(anbn_utils.__path__)}
    assert modules - listed == set(), "add these modules to anbn_utils/__init__.py's docstring"
    assert listed - modules == set(), "these modules listed in anbn_utils/__init__.py are gone"
