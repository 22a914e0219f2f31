"""Equality of parsed YAML as strict as the fast parser's promise (shared by its tests and
benchmarks/fastyaml_equal.py)."""

from __future__ import annotations

import math


def same(a, b) -> bool:
    """Equal with the same types and key order all the way down (1 == True == 1.0 are not)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(x, y) for x, y in zip(a, b)) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is float and math.isnan(a):
        return math.isnan(b)
    return a == b
