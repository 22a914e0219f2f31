"""text_map: labels, annotations and selectors read as text, shared where they already are."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeward.model.resource import text_map

SCALARS = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))


@given(st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.booleans()), SCALARS, max_size=6))
def test_a_map_reads_as_its_text_and_is_shared_when_it_already_is(value):
    expected = {str(k): str(v) for k, v in value.items()}
    found = text_map(value)
    assert found == expected and list(found) == list(expected)
    assert all(type(k) is str and type(v) is str for k, v in found.items())
    if all(type(k) is str and type(v) is str for k, v in value.items()):
        assert found is value


def test_what_is_not_a_map_reads_as_an_empty_one():
    for value in (None, "app=web", ["app", "web"], 3):
        assert text_map(value) == {}
