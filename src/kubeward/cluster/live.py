"""One cluster kept judged: the watch's events feed the pipeline's live evaluator, and each batch
of changes is handed to the publishers (metrics, PolicyReports, the findings store).

Events are taken in batches: everything waiting when the evaluator is free (a burst of ten
thousand events is one or a few batches, each rule re-run at most once per batch). Nothing is
published before every kind has been listed once (or has failed), so that a PolicyReport is never
written from half a cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from kubeward import pipeline, suppress
from kubeward.cluster.collect import CollectionError
from kubeward.cluster.transport import Transport
from kubeward.cluster.watch import DELETE, FAILED, RESET, UPSERT, ClusterWatch, KindEvent, drain, resource_of
from kubeward.incremental import Change, Delta, LiveEvaluator
from kubeward.model.inventory import Inventory
from kubeward.reports.scanned import Scanned
from kubeward.rules.model import Rule
from kubeward.sources.loader import LoadIssue

BATCH_MAX = 50_000
IDLE_WAIT = 0.5


class Publisher(Protocol):
    def publish(self, live: LiveCluster, delta: Delta | None) -> None:
        """After the first evaluation (`delta` None) and after each batch of changes."""


@dataclass
class BatchTiming:
    """For /metrics: how long events waited and how long the evaluation took."""

    event_to_findings: list[float] = field(default_factory=list)  # seconds, one per event of the last batch
    evaluation: float = 0.0


class LiveCluster:
    def __init__(self, transport: Transport, rules: Sequence[Rule], config: suppress.Config | None = None, *,
                 include_secret_metadata: bool = False, watch: ClusterWatch | None = None,
                 label_resources: bool = False, log: Callable[[dict], None] = lambda event: None):
        self.transport = transport
        self.name = transport.name
        self.rules = list(rules)
        self.config = config or suppress.Config()
        self.watch = watch or ClusterWatch(transport, include_secret_metadata)
        self.cluster_label = self.name if label_resources else None
        self.source = f"cluster:{self.name}"
        self.log = log
        self.publishers: list[Publisher] = []
        self.live: LiveEvaluator | None = None
        self.kind_errors: dict[str, CollectionError] = {}
        self.timing = BatchTiming()
        self.batches = 0
        self.started = time.time()

    # --- state for publishers ------------------------------------------------------------------

    def errors(self) -> list[LoadIssue]:
        collection = [*self.watch.discovery_errors(), *sorted(self.kind_errors.values(), key=lambda e: e.resource)]
        issues = [LoadIssue(self.source, None, e.describe()) for e in collection]
        return issues + (self.live.errors() if self.live is not None else [])

    def evaluation(self) -> pipeline.Evaluation:
        """The current findings as the pipeline's result (what scan would report now)."""
        assert self.live is not None
        scanned = Scanned(objects=len(self.live.inventory), errors=self.errors(), notes=list(self.live.notes))
        scanned.clusters = [self.cluster_label] if self.cluster_label else []
        return pipeline.Evaluation(self.live.findings(), scanned, self.rules)

    # --- the loop ---------------------------------------------------------------------------

    def start(self, deadline: float | None = None) -> None:
        """Start the watches, wait for the first list of every kind, and evaluate everything once."""
        self.watch.start()
        waiting = {kind.group_resource for kind, _ in self.watch.kinds}
        objects: dict[str, list[dict]] = {}
        stop_at = time.monotonic() + (deadline if deadline is not None else self.transport.policy.collection_deadline)
        early: list[KindEvent] = []
        while waiting and time.monotonic() < stop_at:
            for event in drain(self.watch.events, IDLE_WAIT, BATCH_MAX):
                name = event.kind.group_resource
                if name in waiting and event.type == RESET:
                    objects[name] = event.objects
                    waiting.discard(name)
                elif name in waiting and event.type == FAILED:
                    self.kind_errors[name] = event.error  # type: ignore[assignment]
                    waiting.discard(name)
                else:
                    early.append(event)
        for name in waiting:
            self.kind_errors[name] = CollectionError(name, 0, "not listed within the collection deadline")
        table = self.watch.table()
        resources = []
        for kind, _ in self.watch.kinds:  # declared order, as a collection
            resources += [resource_of(obj, table, self.source, self.cluster_label)
                          for obj in objects.get(kind.group_resource, ())]
        self.live = LiveEvaluator(self.rules, self.config, Inventory(resources, table))
        for _name, error in sorted(self.kind_errors.items()):
            self.log({"event": "watch.error", "cluster": self.name, "message": error.describe()})
        self.log({"event": "watch.synced", "cluster": self.name, "objects": len(resources),
                  "findings": len(self.live.findings()), "kinds": len(self.watch.kinds)})
        self._publish(None)
        if early:
            self._apply(early)

    def step(self, wait: float = IDLE_WAIT) -> Delta | None:
        """Evaluate every event waiting now (waiting up to `wait` for one); None when none came."""
        events = list(drain(self.watch.events, wait, BATCH_MAX))
        if not events:
            return None
        return self._apply(events)

    def run(self, until: Callable[[], bool]) -> None:
        while not until():
            self.step()

    def stop(self) -> None:
        self.watch.stop()

    def _apply(self, events: list[KindEvent]) -> Delta:
        assert self.live is not None
        table = self.live.inventory.table
        changes: list[Change] = []
        for event in events:
            name = event.kind.group_resource
            if event.type == FAILED:
                if name not in self.kind_errors:
                    self.log({"event": "watch.error", "cluster": self.name, "message": event.error.describe()})  # type: ignore[union-attr]
                self.kind_errors[name] = event.error  # type: ignore[assignment]
                continue
            if self.kind_errors.pop(name, None) is not None:
                self.log({"event": "watch.recovered", "cluster": self.name, "resource": name})
            if event.type == RESET:
                listed = [resource_of(obj, table, self.source, self.cluster_label) for obj in event.objects]
                present = {r.key for r in listed}
                changes += [Change.delete(r.key) for r in self.live.inventory.of_kind(event.served.kind)
                            if r.key not in present]
                changes += [Change.upsert(r) for r in listed]
            elif event.type in (UPSERT, DELETE) and event.obj is not None:
                resource = resource_of(event.obj, table, self.source, self.cluster_label)
                changes.append(Change.upsert(resource) if event.type == UPSERT else Change.delete(resource.key))
        delta = self.live.apply(changes)
        done = time.monotonic()
        self.timing = BatchTiming([done - e.received for e in events], delta.seconds)
        self.batches += 1
        self._publish(delta)
        return delta

    def _publish(self, delta: Delta | None) -> None:
        for publisher in self.publishers:
            try:
                publisher.publish(self, delta)
            except Exception as exc:
                self.log({"event": "publish.error", "cluster": self.name, "publisher": type(publisher).__name__,
                          "message": f"{type(exc).__name__}: {str(exc)[:300]}"})
