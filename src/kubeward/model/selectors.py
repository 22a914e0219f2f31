"""Label selectors (metav1.LabelSelector): parsing with precise errors, matching one label set,
and evaluating against many label sets at once through an inverted index. Shared by every
engine that selects objects by labels (NetworkPolicy peers, ClusterRole aggregation)."""

from __future__ import annotations

from dataclasses import dataclass

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector the API server would reject; `field` is the offending path below it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


Requirement = tuple[str, str, frozenset]  # key, operator, values


@dataclass(frozen=True, slots=True)
class Selector:
    """ANDed requirements; no requirement selects everything."""

    requirements: tuple[Requirement, ...] = ()

    @property
    def selects_all(self) -> bool:
        return not self.requirements

    def matches(self, labels: dict[str, str]) -> bool:
        for key, operator, values in self.requirements:
            present = key in labels
            if operator == "In":
                if not present or labels[key] not in values:
                    return False
            elif operator == "NotIn":
                if present and labels[key] in values:
                    return False
            elif operator == "Exists":
                if not present:
                    return False
            elif present:  # DoesNotExist
                return False
        return True

    def describe(self) -> str:
        if not self.requirements:
            return "{}"
        parts = []
        for key, operator, values in self.requirements:
            if operator == "In" and len(values) == 1:
                parts.append(f"{key}={next(iter(values))}")
            elif operator in ("In", "NotIn"):
                parts.append(f"{key} {operator.lower()} ({','.join(sorted(values))})")
            elif operator == "Exists":
                parts.append(key)
            else:
                parts.append(f"!{key}")
        return ",".join(parts)


SELECT_ALL = Selector()


def _label_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_selector(data: object) -> Selector:
    """Parse a LabelSelector; raises SelectorError naming the field for what the API rejects."""
    if data is None:
        return SELECT_ALL
    if not isinstance(data, dict):
        raise SelectorError("", f"must be a label selector object, not {type(data).__name__}")
    requirements: list[Requirement] = []
    match_labels = data.get("matchLabels")
    if match_labels is not None:
        if not isinstance(match_labels, dict):
            raise SelectorError("matchLabels", "must be a map of label key to value")
        for key, value in match_labels.items():
            requirements.append((str(key), "In", frozenset({_label_text(value)})))
    expressions = data.get("matchExpressions")
    if expressions is not None:
        if not isinstance(expressions, list):
            raise SelectorError("matchExpressions", "must be a list")
        for i, expression in enumerate(expressions):
            requirements.append(_parse_expression(expression, f"matchExpressions[{i}]"))
    return Selector(tuple(sorted(requirements, key=lambda r: (r[0], r[1], sorted(r[2])))))


def _parse_expression(expression: object, field: str) -> Requirement:
    if not isinstance(expression, dict):
        raise SelectorError(field, "must be an object with key, operator and values")
    key = expression.get("key")
    if not isinstance(key, str) or not key:
        raise SelectorError(f"{field}.key", "must be a non-empty string")
    operator = expression.get("operator")
    if operator not in OPERATORS:
        raise SelectorError(f"{field}.operator", f"unknown operator {operator!r} (expected one of {', '.join(OPERATORS)})")
    values = expression.get("values")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise SelectorError(f"{field}.values", "must be a list of strings")
    if operator in ("In", "NotIn") and not values:
        raise SelectorError(f"{field}.values", f"operator {operator} needs at least one value")
    if operator in ("Exists", "DoesNotExist") and values:
        raise SelectorError(f"{field}.values", f"operator {operator} takes no values")
    return key, operator, frozenset(_label_text(v) for v in values)


class LabelIndex:
    """Label sets numbered 0..n-1, indexed so that a selector is evaluated with a few set
    operations instead of one match per label set."""

    def __init__(self, label_sets: list[dict[str, str]]):
        self.everything = frozenset(range(len(label_sets)))
        self._by_pair: dict[tuple[str, str], set[int]] = {}
        self._by_key: dict[str, set[int]] = {}
        for i, labels in enumerate(label_sets):
            for key, value in labels.items():
                self._by_pair.setdefault((key, value), set()).add(i)
                self._by_key.setdefault(key, set()).add(i)
        self._cache: dict[Selector, frozenset[int]] = {}

    def with_value(self, key: str, value: str) -> set[int]:
        """Members whose label `key` has `value` (do not modify the set)."""
        return self._by_pair.get((key, value), set())

    def with_key(self, key: str) -> set[int]:
        """Members that carry label `key` (do not modify the set)."""
        return self._by_key.get(key, set())

    def values_of(self, key: str) -> dict[str, set[int]]:
        """Each value of label `key` and the members that carry it."""
        values: dict[str, dict[str, set[int]]] | None = getattr(self, "_values", None)
        if values is None:
            values = {}
            self._values = values
            for (k, v), members in self._by_pair.items():
                values.setdefault(k, {})[v] = members
        return values.get(key, {})

    def select(self, selector: Selector) -> frozenset[int]:
        found = self._cache.get(selector)
        if found is None:
            found = self._cache[selector] = self._evaluate(selector)
        return found

    def _evaluate(self, selector: Selector) -> frozenset[int]:
        result: set[int] | frozenset[int] = self.everything
        for key, operator, values in selector.requirements:
            if operator == "In":
                matched: set[int] = set()
                for value in values:
                    matched |= self._by_pair.get((key, value), set())
                result = result & matched
            elif operator == "NotIn":
                for value in values:
                    result = result - self._by_pair.get((key, value), set())
            elif operator == "Exists":
                result = result & self._by_key.get(key, set())
            else:
                result = result - self._by_key.get(key, set())
            if not result:
                break
        return frozenset(result)
