"""The decision log read back: the would-deny summary (`webhook report`) and the safe path from
dry-run to enforce (`webhook promote`): a rule moves one step (dry-run -> warn -> enforce) only
when the log covers the whole window and holds no would-deny event of that rule in it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import orjson
import yaml

from kubeward.webhook.config import MODES, WebhookConfig

MAX_LINE = 1 << 20


@dataclass
class LogSummary:
    records: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    bad_lines: list[str] = field(default_factory=list)  # "file:line: why"
    would_deny: Counter = field(default_factory=Counter)  # (rule, namespace) -> events
    denied: Counter = field(default_factory=Counter)  # (rule, namespace) -> denials
    last_would_deny: dict[str, dt.datetime] = field(default_factory=dict)  # rule -> newest event
    events: dict[str, list[dt.datetime]] = field(default_factory=lambda: defaultdict(list))  # rule -> would-deny times
    verdicts: Counter = field(default_factory=Counter)


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def read(sources: Iterable[tuple[str, Iterable[bytes]]]) -> LogSummary:
    """Read decision-log lines ((name, lines) per file). A line that is not a decision record is
    counted as bad and skipped; the rest is still read."""
    summary = LogSummary()
    for name, lines in sources:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            if len(line) > MAX_LINE:
                summary.bad_lines.append(f"{name}:{number}: line over {MAX_LINE} bytes")
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                summary.bad_lines.append(f"{name}:{number}: not JSON ({exc})")
                continue
            when = _time(record.get("ts")) if isinstance(record, dict) else None
            if when is None or not isinstance(record.get("findings"), list):
                summary.bad_lines.append(f"{name}:{number}: not a kubeward decision record")
                continue
            summary.records += 1
            summary.verdicts[str(record.get("verdict"))] += 1
            summary.first = when if summary.first is None or when < summary.first else summary.first
            summary.last = when if summary.last is None or when > summary.last else summary.last
            namespace = record.get("namespace") or "(cluster)"
            for finding in record["findings"]:
                if not isinstance(finding, dict) or not isinstance(finding.get("rule"), str):
                    continue
                rule_id = finding["rule"]
                if finding.get("action") == "deny":
                    summary.denied[(rule_id, namespace)] += 1
                elif finding.get("wouldDeny"):
                    summary.would_deny[(rule_id, namespace)] += 1
                if finding.get("wouldDeny"):
                    summary.events[rule_id].append(when)
                    if rule_id not in summary.last_would_deny or when > summary.last_would_deny[rule_id]:
                        summary.last_would_deny[rule_id] = when
    return summary


def report_text(summary: LogSummary) -> str:
    lines = [f"{summary.records} decision(s)"
             + (f" from {summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} UTC" if summary.first else "")
             + (": " + ", ".join(f"{k} {v}" for k, v in sorted(summary.verdicts.items())) if summary.verdicts else "")]
    if not summary.would_deny and not summary.denied:
        lines.append("No would-deny event: every rule in the log could be enforced without denying anything seen.")
    else:
        by_rule: dict[str, Counter] = defaultdict(Counter)
        for (rule_id, namespace), count in summary.would_deny.items():
            by_rule[rule_id][namespace] += count
        lines.append("")
        lines.append(f"{'RULE':<13} {'WOULD-DENY':>10} {'DENIED':>7}  NAMESPACES (would-deny)")
        rules = sorted(set(by_rule) | {r for r, _ in summary.denied},
                       key=lambda r: (-sum(by_rule[r].values()), r))
        for rule_id in rules:
            denied = sum(c for (r, _), c in summary.denied.items() if r == rule_id)
            spread = ", ".join(f"{ns} {n}" for ns, n in by_rule[rule_id].most_common(5))
            more = len(by_rule[rule_id]) - 5
            lines.append(f"{rule_id:<13} {sum(by_rule[rule_id].values()):>10} {denied:>7}  {spread}"
                         + (f", +{more} more" if more > 0 else ""))
    for bad in summary.bad_lines[:5]:
        lines.append(f"skipped {bad}")
    if len(summary.bad_lines) > 5:
        lines.append(f"skipped {len(summary.bad_lines) - 5} more bad line(s)")
    return "\n".join(lines) + "\n"


def report_dict(summary: LogSummary) -> dict:
    return {
        "records": summary.records,
        "from": summary.first.isoformat() if summary.first else None,
        "to": summary.last.isoformat() if summary.last else None,
        "verdicts": dict(summary.verdicts),
        "wouldDeny": [{"rule": r, "namespace": ns, "events": n} for (r, ns), n in sorted(summary.would_deny.items())],
        "denied": [{"rule": r, "namespace": ns, "events": n} for (r, ns), n in sorted(summary.denied.items())],
        "badLines": summary.bad_lines,
    }


@dataclass
class Promotion:
    rule: str
    current: str
    proposed: str  # == current when it stays
    reason: str


def promote(summary: LogSummary, config: WebhookConfig, rule_ids: Iterable[str], days: float,
            now: dt.datetime | None = None) -> list[Promotion]:
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=days)
    covered = summary.first is not None and summary.first <= since
    out = []
    for rule_id in rule_ids:
        current = config.rule_mode(rule_id) or config.mode
        if current == "enforce":
            out.append(Promotion(rule_id, current, current, "already enforced"))
            continue
        if not covered:
            span = f"it starts {summary.first:%Y-%m-%d %H:%M} UTC" if summary.first else "it is empty"
            out.append(Promotion(rule_id, current, current, f"the log does not cover the last {days:g} day(s) ({span})"))
            continue
        recent = [t for t in summary.events.get(rule_id, ()) if t >= since]
        if recent:
            out.append(Promotion(rule_id, current, current,
                                 f"{len(recent)} would-deny event(s) in the last {days:g} day(s), the last at {max(recent):%Y-%m-%d %H:%M} UTC"))
            continue
        proposed = MODES[MODES.index(current) + 1]
        out.append(Promotion(rule_id, current, proposed, f"no would-deny event in the last {days:g} day(s)"))
    return out


def config_change(config: WebhookConfig, promotions: list[Promotion]) -> str:
    """The `rules:` section after the promotions, as YAML to put in the config file."""
    modes = dict(config.rule_modes)
    for promotion in promotions:
        if promotion.proposed != promotion.current:
            modes[promotion.rule] = promotion.proposed
    return yaml.safe_dump({"rules": modes}, sort_keys=False)
