"""`kubeward webhook`: the admission webhook front end (serve, certs, manifests, report, promote).
The decisions come from kubeward.webhook, which judges through the pipeline."""

from __future__ import annotations

import datetime as dt
import sys

import click

from kubeward.cli.inputs import InputError

EXIT_ERROR = 2


@click.group()
def webhook() -> None:
    """Validating admission webhook: the scan's rules at admission, dry-run -> warn -> enforce."""


@webhook.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file: suppressions, per-rule modes, namespaces, exemptions (default: ./.kubeward.yaml if present).")
@click.option("--mode", type=click.Choice(["dry-run", "warn", "enforce"]), default=None,
              help="Cluster-wide default mode (default: the config's, else dry-run).")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "info"]), default=None,
              help="Cluster-wide default level: findings at or above it are denied (enforce), warned or recorded (default: high).")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option("--tls-cert", required=True, type=click.Path(exists=True, dir_okay=False), help="Serving certificate (PEM).")
@click.option("--tls-key", required=True, type=click.Path(exists=True, dir_okay=False), help="Its private key (PEM).")
@click.option("--metrics-port", default=None, type=click.IntRange(1, 65535),
              help="Also serve /metrics over plain HTTP on this port (it is always on the HTTPS port).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Run only these rules (globs allowed).")
@click.option("--exclude-rule", "exclude", multiple=True, metavar="ID", help="Do not run these rules.")
@click.option("--no-cluster", is_flag=True, help="No context cache: judge with object-local rules only.")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig for the context cache (default: in-cluster, else ~/.kube/config).")
@click.option("--context", default=None, metavar="NAME", help="Kubeconfig context for the context cache.")
@click.option("--log-file", default=None, type=click.Path(dir_okay=False),
              help="Append the decision log (JSON lines) here instead of stdout.")
@click.option("--sync-grace", default=10.0, show_default=True, type=float,
              help="Seconds /readyz waits for the context cache before reporting ready anyway.")
@click.option("--server", "server_name", type=click.Choice(["uvicorn", "granian"]), default="uvicorn", show_default=True,
              help="HTTP server (both were measured; see docs/webhook.md).")
@click.option("--floor", is_flag=True, hidden=True, help="Benchmark floor: answer allowed: true without judging.")
def serve(config_path, mode, fail_on, host, port, tls_cert, tls_key, metrics_port, workers, rules, exclude, no_cluster,
          kubeconfig, context, log_file, sync_grace, server_name, floor) -> None:
    """Serve AdmissionReviews (admission.k8s.io/v1) at POST /validate over HTTPS."""
    from kubeward.pipeline import RuleSelection, SelectionError
    from kubeward.suppress import find_config
    from kubeward.webhook.config import WebhookConfigError, from_file
    from kubeward.webhook.server import Settings
    from kubeward.webhook.server import serve as run_server

    config_path = find_config(config_path, ())
    try:
        config = from_file(config_path, mode, fail_on)
        RuleSelection(tuple(rules), tuple(exclude)).select()
    except (WebhookConfigError, SelectionError) as exc:
        raise click.UsageError(str(exc)) from None
    if not no_cluster and not floor:
        from kubeward.cluster.transport import ClusterError, connect

        try:
            connect(kubeconfig, context).close()
        except ClusterError as exc:
            raise InputError(f"{exc} (use --no-cluster to run with object-local rules only)") from None
    _check_tls(tls_cert, tls_key)
    settings = Settings(tls_cert=tls_cert, tls_key=tls_key, host=host, port=port, workers=workers, server=server_name,
                        config_path=config_path, mode=mode, fail_on=fail_on, rules=list(rules), exclude=list(exclude),
                        cluster=not no_cluster and not floor, kubeconfig=kubeconfig, context=context,
                        log_file=log_file, floor=floor, sync_grace=sync_grace, metrics_port=metrics_port)
    click.echo(f"kubeward webhook: https://{host}:{port}/validate, {workers} worker(s), default mode {config.mode} "
               f"at {config.fail_on.label}, context cache {'on' if settings.cluster else 'off'}", err=True)
    run_server(settings)


def _check_tls(cert: str, key: str) -> None:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise click.UsageError(f"--tls-cert {cert} / --tls-key {key}: not a usable certificate and key: {exc}") from None


@webhook.command()
@click.option("--service", default="kubeward-webhook", show_default=True, help="The webhook's Service name.")
@click.option("--namespace", default="kubeward", show_default=True, help="Its namespace.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for ca.crt, tls.crt, tls.key.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650), help="Validity.")
def certs(service, namespace, out, days) -> None:
    """Create a CA and a serving certificate for the Service's DNS names and localhost/127.0.0.1."""
    from kubeward.webhook.certs import issue

    try:
        issued = issue(service, namespace, out, days)
    except OSError as exc:
        raise InputError(f"--out {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {issued.ca_crt}, {issued.tls_crt}, {issued.tls_key} for {', '.join(issued.dns_names)}, 127.0.0.1",
               err=True)
    click.echo(f"caBundle: {issued.ca_bundle}")


@webhook.command()
@click.option("--namespace", default="kubeward", show_default=True)
@click.option("--failure-policy", type=click.Choice(["Ignore", "Fail"]), default="Ignore", show_default=True,
              help="Ignore: admit when the webhook cannot answer (fail open). Fail: refuse (fail closed); see docs/webhook.md.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA certificate (ca.crt from `webhook certs`) to put in the caBundle.")
@click.option("--image", default=None, help="Container image (default: ghcr.io/kubeward/kubeward:VERSION).")
@click.option("--exec", "exec_", is_flag=True, help="Also send `kubectl exec` (pods/exec CONNECT) to the webhook.")
def manifests(namespace, failure_policy, ca_file, image, exec_) -> None:
    """Print the manifests that install the webhook (kubectl apply -f -)."""
    from kubeward.webhook import manifests as docs
    from kubeward.webhook.certs import ca_bundle

    bundle = None
    if ca_file:
        try:
            bundle = ca_bundle(ca_file)
        except (OSError, ValueError) as exc:
            raise click.UsageError(f"--ca-file {ca_file}: not a PEM certificate: {exc}") from None
    else:
        click.echo("kubeward: no --ca-file: the ValidatingWebhookConfiguration has no caBundle; add it before applying",
                   err=True)
    click.echo(docs.render(namespace=namespace, failure_policy=failure_policy, ca_bundle=bundle, image=image,
                           exec_=exec_), nl=False)


def _read_logs(paths):
    from kubeward.webhook.dryrun import read

    sources = []
    problems = []
    for path in paths or ("-",):
        if path == "-":
            sources.append(("<stdin>", sys.stdin.buffer.read().splitlines()))
            continue
        try:
            with open(path, "rb") as handle:
                sources.append((path, handle.read().splitlines()))
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    return read(sources), problems


@webhook.command()
@click.argument("logs", nargs=-1)
@click.option("--format", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def report(logs, fmt) -> None:
    """Would-deny summary by rule and namespace, from decision logs (files, or - / nothing for stdin)."""
    import orjson

    from kubeward.webhook.dryrun import report_dict, report_text

    summary, problems = _read_logs(logs)
    if fmt == "json":
        click.echo(orjson.dumps({**report_dict(summary), "errors": problems}, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(report_text(summary), nl=False)
    for problem in problems:
        click.echo(f"kubeward: {problem}", err=True)
    sys.exit(EXIT_ERROR if problems or summary.bad_lines else 0)


@webhook.command()
@click.argument("rule")
@click.argument("logs", nargs=-1)
@click.option("--after", "days", required=True, type=click.FloatRange(min=0, min_open=True), metavar="DAYS",
              help="The window that must hold no would-deny event (and that the log must cover).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The webhook's config file (the current modes; default: ./.kubeward.yaml if present).")
@click.option("--now", default=None, hidden=True, help="Evaluate as of this time (ISO 8601; tests).")
def promote(rule, logs, days, config_path, now) -> None:
    """Move RULE (or all) one step, dry-run -> warn -> enforce, when no would-deny event happened
    in the last DAYS days of the decision logs; print the config change."""
    from kubeward.pipeline import RuleSelection, SelectionError
    from kubeward.rules.model import Target
    from kubeward.suppress import find_config
    from kubeward.webhook.config import WebhookConfigError, from_file
    from kubeward.webhook.dryrun import config_change
    from kubeward.webhook.dryrun import promote as plan

    try:
        config = from_file(find_config(config_path, ()))
        selected = RuleSelection(() if rule.lower() == "all" else (rule,)).select()
    except (WebhookConfigError, SelectionError) as exc:
        raise click.UsageError(str(exc)) from None
    rule_ids = [r.id for r in selected if r.target in (Target.OBJECT, Target.POD_TEMPLATE)]
    if not rule_ids:
        raise click.UsageError(f"{rule} is not a rule the webhook runs (it judges one object or pod template)")
    when = None
    if now:
        try:
            when = dt.datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise click.UsageError(f"--now {now!r} is not an ISO 8601 time") from None
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    summary, problems = _read_logs(logs)
    promotions = plan(summary, config, rule_ids, days, when)
    moved = [p for p in promotions if p.proposed != p.current]
    shown = promotions if len(promotions) <= 20 else moved + [p for p in promotions if p.proposed == p.current][:10]
    for p in shown:
        arrow = f"{p.current} -> {p.proposed}" if p.proposed != p.current else f"stays {p.current}"
        click.echo(f"{p.rule}: {arrow} ({p.reason})", err=True)
    if len(shown) < len(promotions):
        click.echo(f"... and {len(promotions) - len(shown)} more that stay where they are", err=True)
    if moved:
        click.echo("# put this `rules:` section in the webhook's config file:")
        click.echo(config_change(config, promotions), nl=False)
    for problem in problems + [f"skipped {b}" for b in summary.bad_lines[:5]]:
        click.echo(f"kubeward: {problem}", err=True)
    sys.exit(EXIT_ERROR if problems or summary.bad_lines else 0)


COMMANDS = [webhook]
