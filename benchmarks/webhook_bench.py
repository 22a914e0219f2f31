"""Admission webhook benchmark: latency at fixed rates and the maximum sustainable rate, with 1
and 2 workers, side by side with a floor (the same server answering a constant allowed: true).

    .venv/bin/python benchmarks/webhook_bench.py [--duration 10] [--servers uvicorn,granian]

Set-up, all on this machine over loopback: certificates from `kubeward webhook certs`; a fake
API server (tests/webhook/fakewatch.py) holding the corpus's Namespaces, ServiceAccounts,
LimitRanges, ResourceQuotas and RBAC, which the webhook's context cache lists and watches, so
every rule runs; AdmissionReviews (CREATE) of realistic Pods: the pod template of every
workload of ../shared/corpus. The load generator is an open-loop asyncio client (uvloop) with
keep-alive TLS connections: request i is due at start + i/rate and its latency is counted from
that due time (queueing included, no coordinated omission); for the latency tables it spins to
send each request on time (a whole core), for the ladder it wakes every millisecond (about a
fifth of a core at 2,000 req/s; up to 1 ms late, counted). "Sustainable" means: at least 97%
of the asked rate delivered, no error, p99 under 50 ms. RSS is read from /proc per worker
after the runs. Results: a Markdown table on stdout and benchmarks/out/webhook.json.

The most a server answers, closed loop: `wrk` (Debian's, C and LuaJIT: far less CPU per request
than the Python client, which shares the same two cores) with 16 keep-alive TLS connections
sending the same reviews back to back for `--wrk` seconds, when wrk is installed
(`apt-get install wrk`); its requests/s, latency percentiles, non-200 answers and socket errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "webhook"), str(ROOT / "tests" / "cluster")]
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = ROOT / "benchmarks" / "out"
KUBEWARD = str(Path(sys.executable).with_name("kubeward"))
CONTEXT_KINDS = {"Namespace", "ServiceAccount", "LimitRange", "ResourceQuota", "Role", "RoleBinding", "ClusterRole",
                 "ClusterRoleBinding"}
SUSTAINED = 0.97
P99_BOUND_MS = 50.0
WRK_CONNECTIONS = 16
LADDER_TICK = 0.001  # the ladder's generator wakes every millisecond (see run_rate)
# wrk's request body: the reviews one per line (compact JSON has no newline), sent in turn
WRK_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("KW_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/validate", nil, bodies[i])
end
"""


def corpus_objects() -> list:
    from kubeward.cli.inputs import inventory_from_paths

    return list(inventory_from_paths([str(CORPUS)]))


def reviews(resources) -> list[bytes]:
    """One CREATE AdmissionReview per workload of the corpus, as the Pod its template makes."""
    from kubeward.model.podspec import pod_template

    bodies = []
    for i, resource in enumerate(resources):
        template = pod_template(resource)
        if template is None:
            continue
        namespace = resource.namespace or "default"
        metadata = {**template.metadata, "name": f"{resource.name or 'pod'}-{i}", "namespace": namespace}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.spec}
        bodies.append(orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": f"bench-{i}", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": namespace,
            "operation": "CREATE", "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
            "object": pod}}))
    return bodies


def context_objects(resources) -> list[dict]:
    seen, out = set(), []
    for resource in resources:
        if resource.kind in CONTEXT_KINDS and resource.key not in seen:
            seen.add(resource.key)
            obj = {**resource.obj, "metadata": {**resource.metadata}}
            if resource.namespace:
                obj["metadata"]["namespace"] = resource.namespace
            out.append(obj)
    return out


# --- the load generator -----------------------------------------------------------------------

async def _connection(host: str, port: int, context: ssl.SSLContext):
    return await asyncio.open_connection(host, port, ssl=context, server_hostname="localhost")


async def run_rate(host: str, port: int, context: ssl.SSLContext, bodies: list[bytes], rate: float, seconds: float,
                   connections: int = 48, tick: float = 0.0005) -> dict:
    """Open loop: request i is due at start + i/rate; every `tick` seconds the requests now due
    are queued for the connections; latency counts from the due time. At 0.5 ms (the latency
    tables) the loop spins, sends each request on time and takes a whole core; at 1 ms (the
    ladder) it wakes 1,000 times a second, sends up to 1 ms late (counted in the latency) and
    leaves the cores to the server."""
    total = max(1, int(rate * seconds))
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    head = b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "

    async def worker():
        nonlocal errors
        try:
            reader, writer = await _connection(host, port, context)
        except OSError:
            errors += 1
            return
        while True:
            item = await queue.get()
            if item is None:
                break
            due, body = item
            try:
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - due)
                if header[9:12] != b"200":
                    errors += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                try:
                    reader, writer = await _connection(host, port, context)
                except OSError:
                    return
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # connect first
    start = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - start) * rate) + 1)
        while sent < due_count:
            queue.put_nowait((start + sent / rate, bodies[sent % len(bodies)]))
            sent += 1
        await asyncio.sleep(tick)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=seconds + 60)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"rate": rate, "seconds": round(elapsed, 2), "done": len(latencies), "errors": errors,
            "achieved": round(len(latencies) / elapsed, 1), "p50_ms": round(pct(0.50), 3), "p95_ms": round(pct(0.95), 3),
            "p99_ms": round(pct(0.99), 3), "max_ms": round(latencies[-1] * 1000, 3) if latencies else None}


def sustained(result: dict) -> bool:
    return (result["errors"] == 0 and result["achieved"] >= SUSTAINED * result["rate"]
            and result["p99_ms"] < P99_BOUND_MS)


# --- the servers ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(certs: Path, kubeconfig: Path | None, workers: int, floor: bool, server: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [KUBEWARD, "webhook", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key"), "--server", server,
            "--mode", "dry-run", "--log-file", os.devnull]
    args += ["--floor"] if floor else ["--kubeconfig", str(kubeconfig)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    deadline = time.monotonic() + 60
    import http.client

    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
            connection.request("GET", "/readyz")
            answer = connection.getresponse()
            body = answer.read()
            if answer.status == 200 and (floor or b'"synced"' in body):
                return process, port
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def process_tree(process: subprocess.Popen) -> tuple[list[int], list[int]]:
    """(every pid of the server's tree, its leaves: the workers)."""
    everyone, leaves, stack = [], [], [process.pid]
    while stack:
        pid = stack.pop()
        everyone.append(pid)
        kids = _children(pid)
        if kids:
            stack.extend(kids)
        else:
            leaves.append(pid)
    return everyone, leaves


def cpu_seconds(process: subprocess.Popen) -> float:
    """User + system CPU time of the whole server (every thread of every process)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(process)[0]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def worker_cpu(process: subprocess.Popen) -> dict[int, float]:
    """CPU seconds of each worker (how evenly the kernel spread the connections)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in process_tree(process)[1]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def worker_rss_mib(process: subprocess.Popen) -> list[float]:
    """RSS of each worker: the leaf processes of the server's process tree."""
    leaves = process_tree(process)[1]
    out = []
    for pid in leaves:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out.append(round(int(line.split()[1]) / 1024, 1))
    return out


def stop_server(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wrk_ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    for unit in ("us", "ms", "s", "m"):
        if text.endswith(unit) and text[:-len(unit)].replace(".", "", 1).isdigit():
            return round(float(text[:-len(unit)]) * units[unit], 3)
    raise ValueError(f"not a wrk duration: {text!r}")


def parse_wrk(output: str) -> dict:
    """requests/s, latency percentiles (ms), non-200 answers and socket errors of `wrk --latency`."""
    out: dict = {"non_200": 0, "socket_errors": 0}
    for line in output.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            out["rps"] = round(float(words[1]), 1)
        elif len(words) == 2 and words[0] in ("50%", "90%", "99%"):
            out[f"p{words[0][:-1]}_ms"] = _wrk_ms(words[1])
        elif line.strip().startswith("Latency") and len(words) >= 4:
            out["max_ms"] = _wrk_ms(words[3])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            out["non_200"] = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            out["socket_errors"] = sum(int(w.rstrip(",")) for w in words[2:] if w.rstrip(",").isdigit())
        elif "requests in" in line:
            out["requests"] = int(words[0])
    return out


def wrk_closed_loop(process: subprocess.Popen, port: int, bodies_file: Path, seconds: float) -> dict | None:
    """The most the server answers with wrk's connections sending back to back (None: no wrk)."""
    if shutil.which("wrk") is None or seconds <= 0:
        return None
    script = bodies_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    before = cpu_seconds(process)
    done = subprocess.run(["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds:g}s", "--latency", "-s", str(script),
                           f"https://127.0.0.1:{port}/validate"], capture_output=True, text=True, timeout=seconds + 60,
                          env={**os.environ, "KW_BODIES": str(bodies_file)})
    result = parse_wrk(done.stdout)
    result["server_cpu_us"] = round((cpu_seconds(process) - before) / max(1, result.get("requests", 0)) * 1e6)
    return result


def measure(certs, kubeconfig, bodies, workers: int, floor: bool, server: str, rates, ladder, seconds: float,
            wrk_seconds: float = 0.0) -> dict:
    process, port = start_server(certs, kubeconfig, workers, floor, server)
    context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    try:
        asyncio.run(run_rate("127.0.0.1", port, context, bodies, 200, 2.0))  # warm-up
        fixed = []
        for rate in rates:
            before, workers_before = cpu_seconds(process), worker_cpu(process)
            result = asyncio.run(run_rate("127.0.0.1", port, context, bodies, rate, seconds))
            # CPU the server spent per answered request: the cost that decides capacity on an idle machine
            result["server_cpu_us"] = round((cpu_seconds(process) - before) / max(1, result["done"]) * 1e6)
            spent = [after - workers_before.get(pid, 0.0) for pid, after in worker_cpu(process).items()]
            result["worker_cpu_share"] = [round(x / sum(spent), 2) if sum(spent) else 0.0 for x in sorted(spent)]
            fixed.append(result)
        best = None
        steps = []
        for rate in ladder:
            result = asyncio.run(run_rate("127.0.0.1", port, context, bodies, rate, max(4.0, seconds / 2),
                                          tick=LADDER_TICK))
            steps.append(result)
            if not sustained(result):
                break
            best = result
        bodies_file = certs.parent / "bodies.jsonl"
        bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
        closed = wrk_closed_loop(process, port, bodies_file, wrk_seconds)
        rss = worker_rss_mib(process)
    finally:
        stop_server(process)
    return {"server": server, "workers": workers, "app": "floor" if floor else "kubeward", "fixed": fixed,
            "max_sustained": best["rate"] if best else 0, "ladder": steps, "rss_mib": rss, "wrk": closed}


def in_process(passes: int = 15) -> list[tuple[str, float]]:
    """CPU microseconds per request of each step a worker takes after HTTP and TLS, over the
    corpus's reviews (the best of `passes` passes: the least disturbed by other processes):
    reading the review, judging it, writing the answer, counting it, logging it; and, for
    comparison, the rules' checks alone on the same objects and contexts."""
    import gc

    from kubeward.model.inventory import Inventory
    from kubeward.model.podspec import pod_template
    from kubeward.model.resource import Resource
    from kubeward.rules.model import Target
    from kubeward.webhook import metrics
    from kubeward.webhook.app import DecisionLog
    from kubeward.webhook.cache import ContextCache
    from kubeward.webhook.server import Settings, build_judge
    from kubeward.webhook.review import parse, response

    resources = corpus_objects()
    bodies = reviews(resources)
    judge = build_judge(Settings("", "", cluster=False, mode="dry-run"))
    judge.context = ContextCache.holding(context_objects(resources))
    log = DecisionLog(os.devnull)
    clock = time.process_time
    if hasattr(metrics, "child"):
        def seconds(operation):
            return metrics.child(metrics.REQUEST_SECONDS, operation)
    else:  # the code before label children were kept (to measure it the same way)
        def seconds(operation):
            return metrics.REQUEST_SECONDS.labels(operation)
    best = {name: float("inf") for name in ("read the review", "judge it", "write the answer", "count it", "log it")}

    def one_pass(spent: dict) -> None:
        for body in bodies:
            t0 = clock()
            request = parse(body)
            t1 = clock()
            decision = judge.decide(request)
            t2 = clock()
            response(request.uid, decision.allowed, message=decision.message, warnings=decision.warnings(),
                     annotations=decision.audit_annotations())
            t3 = clock()
            metrics.record(decision)
            seconds(request.operation).observe(decision.seconds)
            t4 = clock()
            log.write(decision.log_record())
            t5 = clock()
            for name, took in zip(best, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                spent[name] += took

    one_pass(dict.fromkeys(best, 0.0))
    gc.collect()
    gc.freeze()  # as the server does once started
    for _ in range(passes):
        spent = dict.fromkeys(best, 0.0)
        one_pass(spent)
        for name, took in spent.items():
            best[name] = min(best[name], took / len(bodies) * 1e6)
    # the rules' checks alone: no request, decision, findings or suppressions
    subjects = []
    for body in bodies:
        request = parse(body)
        subject = judge._resource(request.object, request)
        rules = judge.rules_for(subject.kind)  # all synced: every rule runs
        contexts = frozenset(c for r in rules for c in r.context)
        subjects.append((subject, judge.context.context_for(subject, contexts), rules))
    settings = judge.config.suppressions.settings() if hasattr(judge.config.suppressions, "settings") else None
    checks = float("inf")
    for _ in range(passes):
        started = clock()
        for subject, context, rules in subjects:
            subject = Resource(subject.obj, subject.namespace, subject.origin)  # as new as each request's
            inventory = Inventory([*context, subject])
            template = pod_template(subject)
            for rule_ in rules:
                target = template if rule_.target == Target.POD_TEMPLATE else subject
                keywords = {"settings": settings} if getattr(rule_, "settings", ()) else {}
                for _hit in (rule_.check(target, inventory, **keywords) if rule_.context else rule_.check(target, **keywords)):
                    pass
        checks = min(checks, (clock() - started) / len(subjects) * 1e6)
    return [*best.items(), ("(of which the rules' checks alone)", checks)]


def in_process_markdown(steps: list[tuple[str, float]]) -> str:
    lines = ["| step (in one worker, no HTTP) | CPU µs per request |", "| --- | ---: |"]
    lines += [f"| {name} | {us:.0f} |" for name, us in steps[:-1]]
    lines.append(f"| **total** | **{sum(us for _, us in steps[:-1]):.0f}** |")
    lines.append(f"| {steps[-1][0]} | {steps[-1][1]:.0f} |")
    return "\n".join(lines)


def rbac_decisions(samples: int = 200) -> list[dict]:
    """In-process decision time for RBAC objects against benchmarks/gen_rbac.py's 36,000-object set
    held in the context cache (the scoped RBAC context: a role, its aggregation, the bindings
    naming it, the token mounts of the subjects' namespaces)."""
    import random

    import gen_rbac
    from kubeward.rules.catalogue import load_all
    from kubeward.webhook.cache import ContextCache
    from kubeward.webhook.config import WebhookConfig
    from kubeward.webhook.decide import Judge
    from kubeward.webhook.review import parse

    objects = gen_rbac.generate()
    judge = Judge(load_all().values(), WebhookConfig(), ContextCache.holding(objects))
    rng = random.Random(3)
    out = []
    for kind in ("RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole"):
        pool = [o for o in objects if o["kind"] == kind]
        times = []
        for i, obj in enumerate(rng.sample(pool, min(samples, len(pool)))):
            namespace = obj["metadata"].get("namespace", "")
            group, _, version = obj["apiVersion"].rpartition("/")
            body = orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": f"rbac-{i}", "kind": {"group": group, "version": version, "kind": kind},
                "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
                "namespace": namespace, "operation": "CREATE", "userInfo": {"username": "bench"}, "object": obj}})
            started = time.perf_counter()
            judge.decide(parse(body))
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        out.append({"kind": kind, "objects": len(objects), "samples": len(times),
                    "median_ms": round(statistics.median(times), 2), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 2),
                    "max_ms": round(times[-1], 2)})
    return out


def serve_api(directory: Path) -> None:
    """The fake API server, in a process of its own (`--serve-api DIR`): its watch threads wake
    every 0.1 s, and in the load generator's process they would take its GIL and add their
    delays to the latencies of the kubeward runs only (the floor has no cache). Writes
    DIR/kubeconfig once it listens; runs until its stdin closes."""
    from fakeapi import make_certificates, write_kubeconfig
    from fakewatch import WatchApiServer, WatchCluster

    api_certs = make_certificates(directory)
    cluster = WatchCluster(context_objects(corpus_objects()))
    with WatchApiServer(cluster, api_certs) as api:
        write_kubeconfig(directory / "kubeconfig.tmp", {"bench": api.url}, api_certs)
        (directory / "kubeconfig.tmp").rename(directory / "kubeconfig")
        print(f"{len(cluster.objects)} context objects", file=sys.stderr)
        sys.stdin.read()


def start_api(work: Path) -> tuple[subprocess.Popen, Path]:
    directory = work / "api"
    directory.mkdir()
    process = subprocess.Popen([sys.executable, __file__, "--serve-api", str(directory)], stdin=subprocess.PIPE)
    kubeconfig = directory / "kubeconfig"
    deadline = time.monotonic() + 120
    while not kubeconfig.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the fake API server did not start")
        time.sleep(0.1)
    return process, kubeconfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per fixed rate")
    parser.add_argument("--rates", default="100,500,1000")
    parser.add_argument("--ladder", default="500,1000,1500,2000,2500,3000,3500,4000,5000")
    parser.add_argument("--servers", default="uvicorn", help="uvicorn, granian or both (comma-separated)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--runs", type=int, default=1, help="repeat each configuration; medians are reported")
    parser.add_argument("--apps", default="floor,kubeward", help="floor, kubeward or both (comma-separated)")
    parser.add_argument("--rbac-only", action="store_true", help="only the in-process RBAC decision times")
    parser.add_argument("--no-rbac", action="store_true", help="skip the in-process RBAC decision times")
    parser.add_argument("--in-process", action="store_true",
                        help="only the CPU time of each step of one request inside a worker, without HTTP")
    parser.add_argument("--wrk", type=float, default=5.0, metavar="SECONDS",
                        help="closed-loop maximum with wrk for this long, when wrk is installed (0: skip)")
    parser.add_argument("--serve-api", metavar="DIR", help=argparse.SUPPRESS)
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    if options.serve_api:
        return serve_api(Path(options.serve_api))
    if options.in_process:
        print(in_process_markdown(in_process()))
        return
    rbac = [] if options.no_rbac else rbac_decisions()
    rbac_table = ["| RBAC object admitted | cluster RBAC objects | samples | median ms | p99 ms | max ms |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
    rbac_table += [f"| {r['kind']} | {r['objects']} | {r['samples']} | {r['median_ms']} | {r['p99_ms']} | {r['max_ms']} |"
                   for r in rbac]
    if options.rbac_only:
        print("\n".join(rbac_table))
        return
    resources = corpus_objects()
    bodies = reviews(resources)
    work = Path(tempfile.mkdtemp(prefix="kubeward-webhook-bench-"))
    subprocess.run([KUBEWARD, "webhook", "certs", "--service", "kubeward-webhook", "--namespace", "kubeward",
                    "--out", str(work / "certs")], check=True, capture_output=True)
    results = []
    rates = [float(r) for r in options.rates.split(",")]
    ladder = [float(r) for r in options.ladder.split(",")]
    print(f"{len(bodies)} AdmissionReviews (median {statistics.median(len(b) for b in bodies)} bytes)", file=sys.stderr)
    api, kubeconfig = start_api(work)
    loads = [os.getloadavg()[0]]
    try:
        for server in options.servers.split(","):
            for workers in (int(w) for w in options.workers.split(",")):
                for app in options.apps.split(","):
                    runs = []
                    for _ in range(options.runs):
                        runs.append(measure(work / "certs", kubeconfig, bodies, workers, app == "floor", server, rates,
                                            ladder, options.duration, options.wrk))
                        loads.append(os.getloadavg()[0])
                    results.append(_median_of(runs))
                    print(_row_text(results[-1]), file=sys.stderr)
    finally:
        api.stdin.close()
        api.wait(10)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "webhook.json").write_bytes(orjson.dumps({"bodies": len(bodies), "results": results, "rbac": rbac,
                                                    "load_average": loads}, option=orjson.OPT_INDENT_2))
    print(f"load average (1 min) during the run: {min(loads):.1f} to {max(loads):.1f}, median "
          f"{statistics.median(loads):.1f}, on {os.cpu_count()} cores\n")
    print(markdown(results))
    if rbac:
        print("\n".join(rbac_table))
    shutil.rmtree(work, ignore_errors=True)


def _median_of(runs: list[dict]) -> dict:
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    out["fixed"] = []
    for i, first in enumerate(runs[0]["fixed"]):
        merged = dict(first)
        for key in ("achieved", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "server_cpu_us"):
            merged[key] = statistics.median(run["fixed"][i][key] for run in runs)
        out["fixed"].append(merged)
    out["max_sustained"] = statistics.median(run["max_sustained"] for run in runs)
    out["max_sustained_runs"] = [run["max_sustained"] for run in runs]
    out["rss_mib"] = [statistics.median(v) for v in zip(*(run["rss_mib"] for run in runs))]
    closed = [run["wrk"] for run in runs if run.get("wrk")]
    out["wrk"] = {key: statistics.median(c[key] for c in closed) for key in closed[0] if all(key in c for c in closed)} \
        if closed else None
    out["runs"] = len(runs)
    return out


def _row_text(result: dict) -> str:
    fixed = "; ".join(f"{r['rate']:.0f}/s p50 {r['p50_ms']} p99 {r['p99_ms']} max {r['max_ms']} err {r['errors']}"
                      for r in result["fixed"])
    return (f"{result['server']} {result['app']} workers={result['workers']}: {fixed}; "
            f"max sustained {result['max_sustained']:.0f}/s; RSS {result['rss_mib']} MiB")


def markdown(results: list[dict]) -> str:
    floors = {(r["server"], r["workers"], f["rate"]): f["server_cpu_us"] for r in results if r["app"] == "floor"
              for f in r["fixed"]}
    lines = ["| server | app | workers | rate req/s | achieved | p50 ms | p95 ms | p99 ms | max ms | errors | "
             "server CPU µs/req | over the floor |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for f in r["fixed"]:
            floor = floors.get((r["server"], r["workers"], f["rate"])) if r["app"] != "floor" else None
            over = "" if floor is None else f"{f['server_cpu_us'] - floor:.0f}"
            lines.append(f"| {r['server']} | {r['app']} | {r['workers']} | {f['rate']:.0f} | {f['achieved']:.0f} | "
                         f"{f['p50_ms']:.2f} | {f['p95_ms']:.2f} | {f['p99_ms']:.2f} | {f['max_ms']:.2f} | {f['errors']:.0f} | "
                         f"{f['server_cpu_us']:.0f} | {over} |")
    lines += ["", "| server | app | workers | max sustained req/s | RSS per worker MiB |", "| --- | --- | ---: | ---: | --- |"]
    for r in results:
        lines.append(f"| {r['server']} | {r['app']} | {r['workers']} | {r['max_sustained']:.0f} | "
                     f"{', '.join(f'{v:.0f}' for v in r['rss_mib'])} |")
    closed = [r for r in results if r.get("wrk")]
    if closed:
        lines += ["", f"Closed loop (wrk, {WRK_CONNECTIONS} connections, back to back):", "",
                  "| server | app | workers | req/s | p50 ms | p90 ms | p99 ms | max ms | non-200 | socket errors | "
                  "server CPU µs/req |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in closed:
            w = r["wrk"]
            lines.append(f"| {r['server']} | {r['app']} | {r['workers']} | {w.get('rps', 0):.0f} | {w.get('p50_ms', 0):.2f} | "
                         f"{w.get('p90_ms', 0):.2f} | {w.get('p99_ms', 0):.2f} | {w.get('max_ms', 0):.2f} | "
                         f"{w['non_200']:.0f} | {w['socket_errors']:.0f} | {w['server_cpu_us']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    main()
