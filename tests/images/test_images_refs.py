"""Image references normalised as a runtime resolves them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.images.refs import ImageRef, parse_ref, repo_digest

D = "sha256:" + "0f" * 32


@pytest.mark.parametrize("text, expected", [
    ("nginx", ImageRef("docker.io", "library/nginx")),
    ("nginx:1.25", ImageRef("docker.io", "library/nginx", "1.25")),
    ("docker.io/library/nginx:1.25", ImageRef("docker.io", "library/nginx", "1.25")),
    ("index.docker.io/library/nginx:1.25", ImageRef("docker.io", "library/nginx", "1.25")),
    ("bitnami/redis:7", ImageRef("docker.io", "bitnami/redis", "7")),
    ("registry:5000/team/app", ImageRef("registry:5000", "team/app")),
    ("registry:5000/team/app:1.2@" + D, ImageRef("registry:5000", "team/app", "1.2", D)),
    ("localhost/app@" + D.upper().replace("SHA256", "sha256"), ImageRef("localhost", "app", None, D)),
    ("GHCR.io/shop/web:v1", ImageRef("ghcr.io", "shop/web", "v1")),
    ("[::1]:5000/app:1", ImageRef("[::1]:5000", "app", "1")),
])
def test_normalised(text, expected):
    assert parse_ref(text) == expected


@pytest.mark.parametrize("text", ["", " ", "UPPER/app", "app:", "app@sha256:xyz", "a b", "app:-bad", "ghcr.io//x", None, 5,
                                  "x" * 5000])
def test_not_references(text):
    assert parse_ref(text) is None


def test_repo_digest_and_display():
    assert repo_digest("nginx@" + D) == ("docker.io/library/nginx", D)
    assert repo_digest("nginx:1.25") is None
    assert parse_ref("nginx:1.25@" + D).display() == "docker.io/library/nginx:1.25@" + D
    assert parse_ref("nginx:1.25").mutable and not parse_ref("nginx@" + D).mutable


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused(text):
    ref = parse_ref(text)
    if ref is not None:
        assert parse_ref(ref.display()) == ref  # normal form is a fixed point


component = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,5})?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(component, min_size=1, max_size=3), st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
       st.booleans())
def test_generated_references_round_trip(parts, tag, with_digest):
    text = "ghcr.io/" + "/".join(parts) + (f":{tag}" if tag else "") + (f"@{D}" if with_digest else "")
    ref = parse_ref(text)
    assert ref is not None and ref.repository == "/".join(parts) and ref.tag == tag
    assert ref.digest == (D if with_digest else None)
