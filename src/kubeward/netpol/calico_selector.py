"""Calico's selector language (projectcalico.org/v3 `selector`, `namespaceSelector`,
`serviceAccountSelector`), parsed with a real grammar and evaluated against one label set or,
for many endpoints at once, against an inverted label index.

The grammar follows Calico's selector reference: match operators `all()`, `global()`,
`k == 'v'`, `k != 'v'`, `has(k)`, `k in {..}`, `k not in {..}`, `k contains 's'`,
`k starts with 's'`, `k ends with 's'`; then parentheses, `!`, `&&` and, lowest, `||`.
`!=` and `not in` also match resources without the label.

An expression is a hashable tuple tree, e.g. `("and", ("eq", "app", "db"), ("has", "tier"))`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from lark import Lark

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("||" and_expr)*       -> or_
?and_expr: not_expr ("&&" not_expr)*      -> and_
?not_expr: "!" not_expr                   -> neg
         | atom
?atom: "(" or_expr ")"
     | "all" "(" ")"                      -> all_
     | "global" "(" ")"                   -> global_
     | "has" "(" KEY ")"                  -> has
     | KEY "==" STRING                    -> eq
     | KEY "!=" STRING                    -> ne
     | KEY "in" valueset                  -> in_
     | KEY "not" "in" valueset            -> notin
     | KEY "contains" STRING              -> contains
     | KEY "starts" "with" STRING         -> starts
     | KEY "ends" "with" STRING           -> ends
valueset: "{" [STRING ("," STRING)*] "}"
KEY: /[a-zA-Z0-9_][a-zA-Z0-9_.\/-]*/
STRING: /'[^']*'/ | /"[^"]*"/
%ignore /[ \t\r\n]+/
"""

ALL = ("all",)
NOTHING = ("not", ALL)


class CalicoSelectorError(ValueError):
    """A selector Calico would reject; the message names the position."""


def _fold(op: str, items: tuple) -> tuple:
    tree = items[0]
    for item in items[1:]:
        tree = (op, tree, item)
    return tree


def _unquote(token) -> str:
    return str(token)[1:-1]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """Built on first use (~17 ms, and ~13 ms to import lark): most scans hold no Calico policy."""
    from lark import Lark, Transformer, v_args

    @v_args(inline=True)
    class ToTree(Transformer):
        def or_(self, *items):
            return _fold("or", items)

        def and_(self, *items):
            return _fold("and", items)

        def neg(self, item):
            return ("not", item)

        def all_(self):
            return ALL

        def global_(self):
            return ("global",)

        def has(self, key):
            return ("has", str(key))

        def eq(self, key, value):
            return ("eq", str(key), _unquote(value))

        def ne(self, key, value):
            return ("not", ("eq", str(key), _unquote(value)))

        def in_(self, key, values):
            return ("in", str(key), values)

        def notin(self, key, values):
            return ("not", ("in", str(key), values))

        def contains(self, key, value):
            return ("contains", str(key), _unquote(value))

        def starts(self, key, value):
            return ("starts", str(key), _unquote(value))

        def ends(self, key, value):
            return ("ends", str(key), _unquote(value))

        def valueset(self, *values):
            return frozenset(_unquote(v) for v in values if v is not None)

    return Lark(GRAMMAR, parser="lalr", transformer=ToTree(), maybe_placeholders=False)


@lru_cache(maxsize=1 << 14)
def parse(text: str) -> tuple:
    """The expression tree of a selector; an empty or blank selector is `all()`."""
    if not isinstance(text, str):
        raise CalicoSelectorError(f"must be a string, not {type(text).__name__}")
    if not text.strip():
        return ALL
    if len(text) > 4096:
        raise CalicoSelectorError("longer than 4096 characters")
    from lark.exceptions import LarkError

    try:
        # lark's stub says parse returns a Tree; with a transformer (lalr) it returns the transformer's result
        tree: tuple = _parser().parse(text)  # type: ignore[assignment]  # library stub: see above
    except LarkError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CalicoSelectorError(f"not a Calico selector: {detail}") from None
    except RecursionError:
        raise CalicoSelectorError(f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(tree) > MAX_DEPTH:
        raise CalicoSelectorError(f"nested deeper than {MAX_DEPTH} levels")
    return tree


MAX_DEPTH = 200  # evaluation recurses once per level; Python's stack allows about 1000


def _depth(tree: tuple) -> int:
    """The depth of a tree, without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if node[0] in ("not", "and", "or"):
            stack.extend((child, depth + 1) for child in node[1:])
    return deepest


def matches(tree: tuple, labels: dict[str, str], is_global: bool = False) -> bool:
    """Whether one resource with `labels` matches (brute force; the reference evaluator)."""
    op = tree[0]
    if op == "all":
        return True
    if op == "global":
        return is_global
    if op == "not":
        return not matches(tree[1], labels, is_global)
    if op == "and":
        return matches(tree[1], labels, is_global) and matches(tree[2], labels, is_global)
    if op == "or":
        return matches(tree[1], labels, is_global) or matches(tree[2], labels, is_global)
    key = tree[1]
    if key not in labels:
        return False
    value = labels[key]
    if op == "has":
        return True
    if op == "eq":
        return value == tree[2]
    if op == "in":
        return value in tree[2]
    if op == "contains":
        return tree[2] in value
    if op == "starts":
        return value.startswith(tree[2])
    if op == "ends":
        return value.endswith(tree[2])
    raise ValueError(f"unknown selector node {op!r}")


def select(tree: tuple, index, extra: Callable[[tuple], frozenset[int]] | None = None) -> frozenset[int]:
    """The members of a `model.selectors.LabelIndex` that match, with set operations per node.
    `extra` evaluates nodes this module does not know (the engine's namespace and service
    account scopes)."""
    op = tree[0]
    if op == "all":
        return index.everything
    if op == "global":
        return frozenset()  # workload endpoints are namespaced
    if op == "not":
        return index.everything - select(tree[1], index, extra)
    if op == "and":
        left = select(tree[1], index, extra)
        return left & select(tree[2], index, extra) if left else left
    if op == "or":
        return select(tree[1], index, extra) | select(tree[2], index, extra)
    if op == "has":
        return frozenset(index.with_key(tree[1]))
    if op == "eq":
        return frozenset(index.with_value(tree[1], tree[2]))
    if op == "in":
        found: set[int] = set()
        for value in tree[2]:
            found |= index.with_value(tree[1], value)
        return frozenset(found)
    if op in ("contains", "starts", "ends"):
        test = {"contains": lambda v, s: s in v, "starts": str.startswith, "ends": str.endswith}[op]
        found = set()
        for value, members in index.values_of(tree[1]).items():
            if test(value, tree[2]):
                found |= members
        return frozenset(found)
    if extra is not None:
        return extra(tree)
    raise ValueError(f"unknown selector node {op!r}")


def keys_of(tree: tuple) -> Iterable[str]:
    """Every label key an expression reads."""
    op = tree[0]
    if op in ("not",):
        yield from keys_of(tree[1])
    elif op in ("and", "or"):
        yield from keys_of(tree[1])
        yield from keys_of(tree[2])
    elif op in ("has", "eq", "in", "contains", "starts", "ends"):
        yield tree[1]


def conj(*trees: tuple) -> tuple:
    """AND of the given trees, dropping `all()`."""
    parts = [t for t in trees if t != ALL]
    if not parts:
        return ALL
    return _fold("and", tuple(parts))


def render(tree: tuple) -> str:
    """Calico text of a tree (for messages and --explain)."""
    op = tree[0]
    if op == "all":
        return "all()"
    if op == "global":
        return "global()"
    if op == "not":
        inner = tree[1]
        if inner[0] == "eq":
            return f"{inner[1]} != '{inner[2]}'"
        if inner[0] == "in":
            return f"{inner[1]} not in {{{', '.join(repr(v) for v in sorted(inner[2]))}}}"
        return f"!{render(inner)}" if inner[0] not in ("and", "or") else f"!({render(inner)})"
    if op in ("and", "or"):
        sep = " && " if op == "and" else " || "
        parts = [render(t) if t[0] != "or" or op == "or" else f"({render(t)})" for t in tree[1:]]
        return sep.join(parts)
    if op == "has":
        return f"has({tree[1]})"
    if op == "eq":
        return f"{tree[1]} == '{tree[2]}'"
    if op == "in":
        return f"{tree[1]} in {{{', '.join(repr(v) for v in sorted(tree[2]))}}}"
    if op in ("contains", "starts", "ends"):
        word = {"contains": "contains", "starts": "starts with", "ends": "ends with"}[op]
        return f"{tree[1]} {word} '{tree[2]}'"
    return repr(tree)
