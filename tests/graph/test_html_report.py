"""The HTML report: hostile strings stay text, and the page works in a real headless browser
(Chromium from Debian driven by Selenium through the system chromedriver; nothing is downloaded).

Set KUBEWARD_SCREENSHOT=PATH to save the browser's view of the demo report (docs/paths-report.png
is made that way)."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from click.testing import CliRunner
from tests.graph.helpers import DEMO

from kubeward.cli.main import cli

HOSTILE = """
apiVersion: v1
kind: Namespace
metadata:
  name: "x<script>alert(1)</script>"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "<script>alert(1)</script>"
  namespace: "x<script>alert(1)</script>"
  annotations: {note: "</script><script>alert(2)</script>"}
spec:
  selector: {matchLabels: {app: "<img src=x onerror=alert(3)>"}}
  template:
    metadata:
      labels: {app: "<img src=x onerror=alert(3)>"}
      annotations:
        container.apparmor.security.beta.kubernetes.io/c: "<script>alert(4)</script>"
    spec:
      serviceAccountName: "<b>sa</b>"
      containers:
      - name: c
        image: "evil:<script>"
        securityContext: {privileged: true}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "</script>"}
subjects: [{kind: ServiceAccount, name: "<b>sa</b>", namespace: "x<script>alert(1)</script>"}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
"""


def render(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.stdout


def test_every_string_from_the_scanned_objects_is_escaped(tmp_path):
    source = tmp_path / "hostile.yaml"
    source.write_text(HOSTILE)
    page = render("scan", source, "-o", "html", "--fail-on", "none")
    assert page.count("<script") == 3  # only the page's own three elements
    assert page.count("</script") == 3
    assert "alert(" in page  # the strings are there, as text
    for raw in ("<script>alert", "<img src=x", "<b>sa</b>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    data = re.search(r'<script type="application/json" id="kw-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data and ">" not in data
    labels = [n["data"]["title"] for n in json.loads(data)["nodes"]]
    assert any("<script>alert(1)</script>" in label for label in labels)  # intact after decoding


def _browser():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        message = "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1900", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _severe(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def _visible_rows(driver) -> int:
    return driver.execute_script(
        "return Array.prototype.filter.call(document.querySelectorAll('#findings-table tbody tr'),"
        " function(r){ return r.style.display !== 'none'; }).length;")


def test_demo_report_in_a_real_browser(browser, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    monkeypatch.chdir(DEMO.parent.parent)  # file names as a person types them: examples/demo/...
    page = tmp_path / "report.html"
    page.write_text(render("scan", "examples/demo", "-o", "html", "--fail-on", "none"))
    report = json.loads(render("scan", "examples/demo", "-o", "json", "--fail-on", "none", "--rank", "paths"))
    active = [f for f in report["findings"] if not f["suppressed"]]
    browser.get(page.as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return !!(window.kubeward && window.kubeward.cy)"))
    assert _severe(browser) == []
    # the numbers people read
    assert browser.find_element(By.ID, "finding-count").text == str(len(active))
    assert browser.find_element(By.ID, "count-critical").text == str(report["summary"]["critical"])
    graph_count = int(browser.find_element(By.ID, "graph-count").text)
    assert browser.execute_script("return window.kubeward.cy.nodes().length") == graph_count > 10
    assert browser.find_element(By.ID, "plan-count").text == "10"
    assert _visible_rows(browser) == len(active)
    # filters
    Select(browser.find_element(By.ID, "filter-severity")).select_by_value("critical")
    assert _visible_rows(browser) == report["summary"]["critical"]
    assert browser.find_element(By.ID, "shown-count").text == f"{report['summary']['critical']} of {len(active)} findings shown"
    Select(browser.find_element(By.ID, "filter-severity")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-path")).select_by_value("no")
    assert _visible_rows(browser) == report["attack_paths"]["findings_not_on_paths"]
    Select(browser.find_element(By.ID, "filter-path")).select_by_value("yes")
    Select(browser.find_element(By.ID, "filter-namespace")).select_by_value("ci")
    expected = sum(1 for f in active if f["attack_paths"] and (f["resource"] or {}).get("namespace") == "ci")
    assert _visible_rows(browser) == expected > 0
    Select(browser.find_element(By.ID, "filter-path")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-namespace")).select_by_value("")
    # a path highlighted on click
    first = browser.find_elements(By.CSS_SELECTOR, "#path-list li")[0]
    first.click()
    members = browser.execute_script("return window.kubeward.data.paths[0].members.length")
    assert browser.execute_script("return window.kubeward.cy.$('.hl').length") == members
    assert "active" in first.get_attribute("class")
    first.click()
    assert browser.execute_script("return window.kubeward.cy.$('.hl').length") == 0
    assert _severe(browser) == []
    target = os.environ.get("KUBEWARD_SCREENSHOT")
    if target:
        browser.execute_script(
            "var p = window.kubeward.data.paths; for (var i = 0; i < p.length; i++) {"
            " if (p[i].entry.indexOf('ci/runner') >= 0 && p[i].jewel.indexOf('cluster-admin') >= 0) { window.kubeward.highlight(i); } }"
            " document.getElementById('graph').scrollIntoView();")
        browser.save_screenshot(target)


def test_hostile_report_runs_no_injected_code(browser, tmp_path):
    source = tmp_path / "hostile.yaml"
    source.write_text(HOSTILE)
    page = tmp_path / "hostile.html"
    page.write_text(render("scan", source, "-o", "html", "--fail-on", "none"))
    browser.get(page.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return !!(window.kubeward && window.kubeward.cy)"))
    assert _severe(browser) == []
    assert browser.execute_script("return document.querySelectorAll('img, b').length") == 0
    text = browser.execute_script("return document.getElementById('findings-table').textContent")
    assert "<script>alert(1)</script>" in text


HOSTILE_AUDIT_EVENT = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "<script>alert(9)</script>",
    "stage": "ResponseComplete", "verb": "create", "requestURI": "/api/v1/namespaces/a/pods/p/exec?command=sh",
    "user": {"username": "<img src=x onerror=alert(1)>", "groups": ["system:authenticated"]},
    "sourceIPs": ["10.0.0.1"],
    "objectRef": {"resource": "pods", "namespace": "a<script>", "name": "p</script><script>alert(2)</script>",
                  "subresource": "exec", "apiVersion": "v1"},
    "responseStatus": {"metadata": {}, "code": 101},
    "requestReceivedTimestamp": "2024-05-01T10:00:00.000001Z", "stageTimestamp": "2024-05-01T10:00:00.000002Z",
}


def test_audit_report_in_a_real_browser(browser, tmp_path):
    """`audit analyze -o html` is the same page as scan's: an exec detection whose user, pod and
    auditID hold markup shows them as text and runs none of it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    log = tmp_path / "audit.log"
    log.write_text(json.dumps(HOSTILE_AUDIT_EVENT) + "\n")
    page_text = render("audit", "analyze", log, "-o", "html", "--fail-on", "none")
    # only the page's own two elements (no attack graph: no Cytoscape)
    assert page_text.count("<script") == page_text.count("</script") == 2
    for raw in ("<script>alert", "<img src=x"):
        assert raw not in page_text
    report = json.loads(render("audit", "analyze", log, "-o", "json", "--fail-on", "none"))
    assert [f["rule"] for f in report["findings"]] == ["KW-AUDIT-105"]
    page = tmp_path / "audit.html"
    page.write_text(page_text)
    browser.get(page.as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return !!window.kubeward"))
    assert _severe(browser) == []
    assert browser.execute_script("return window.kubeward.cy") is None
    assert browser.execute_script("return document.querySelectorAll('img, b').length") == 0
    assert browser.find_element(By.ID, "finding-count").text == "1"
    assert browser.find_element(By.ID, "count-medium").text == "1"
    assert _visible_rows(browser) == 1
    text = browser.execute_script("return document.getElementById('findings-table').textContent")
    assert "KW-AUDIT-105" in text and "<img src=x onerror=alert(1)>" in text
    assert "p</script><script>alert(2)</script>" in text
