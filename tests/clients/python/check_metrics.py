#!/usr/bin/env python3
"""`/metrics` of `fleetsim serve`, read by a real Prometheus parser (the Prometheus Python
client's strict OpenMetrics parser), after check_hub.py ran its jobs against the same server.

Environment: FLEETSIM_HUB_CONNECTION_STRING (the server's host and key: /metrics needs a SAS
token when a key is configured) and REQUESTS_CA_BUNDLE. Exits 1 with `FAILED: ...` on the first
mismatch.
"""

import base64
import hashlib
import hmac
import os
import sys
import time
import urllib.parse

import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families


def fail(what):
    print(f"FAILED: python metrics: {what}")
    sys.exit(1)


def sas(host, key_name, key):
    resource = urllib.parse.quote_plus(host)
    expiry = int(time.time()) + 600
    signed = hmac.new(base64.b64decode(key), f"{resource}\n{expiry}".encode(), hashlib.sha256)
    sig = urllib.parse.quote_plus(base64.b64encode(signed.digest()).decode())
    return f"SharedAccessSignature sr={resource}&sig={sig}&se={expiry}&skn={key_name}"


def main():
    parts = dict(p.split("=", 1) for p in os.environ["FLEETSIM_HUB_CONNECTION_STRING"].split(";"))
    host = parts["HostName"]
    auth = sas(host, parts["SharedAccessKeyName"], parts["SharedAccessKey"])
    if requests.get(f"https://{host}/metrics", timeout=10).status_code != 401:
        fail("/metrics without a token must be 401 when a key is configured")
    resp = requests.get(f"https://{host}/metrics", headers={"Authorization": auth}, timeout=10)
    if resp.status_code != 200:
        fail(f"/metrics answered {resp.status_code}: {resp.text[:200]}")
    if not resp.headers.get("content-type", "").startswith("application/openmetrics-text"):
        fail(f"content type {resp.headers.get('content-type')}")
    families = {f.name: f for f in text_string_to_metric_families(resp.text)}
    expected = {
        "fleetsim_http_requests": "counter",
        "fleetsim_http_request_duration_seconds": "histogram",
        "fleetsim_jobs": "gauge",
        "fleetsim_device_operations_dispatched": "counter",
        "fleetsim_device_operations_answered": "counter",
        "fleetsim_store_commit_duration_seconds": "histogram",
    }
    for name, kind in expected.items():
        if name not in families or families[name].type != kind:
            fail(f"{name}: expected a {kind}, got {families.get(name) and families[name].type}")
    requests_total = families["fleetsim_http_requests"].samples
    unauthorized = sum(s.value for s in requests_total if s.labels.get("status") == "401")
    if unauthorized < 2:  # check_hub's wrong key, and the unauthenticated scrape above
        fail(f"expected at least 2 requests answered 401, got {unauthorized}")
    routes = {s.labels["route"] for s in requests_total}
    for route in ["/jobs/v2/{id}", "/twins/{id}", "/devices/query"]:
        if route not in routes:
            fail(f"no requests counted for route {route} (routes: {sorted(routes)})")
    dispatched = families["fleetsim_device_operations_dispatched"].samples[0].value
    if dispatched < 12:
        fail(f"check_hub's method job alone dispatched 12 devices; counted {dispatched}")
    answered = {s.labels["result"]: s.value for s in families["fleetsim_device_operations_answered"].samples}
    if answered.get("device_error", 0) < 1 or answered.get("succeeded", 0) < 11:
        fail(f"answers by result: {answered}")
    jobs = {s.labels["status"]: s.value for s in families["fleetsim_jobs"].samples if s.labels["api"] == "hub"}
    if sum(jobs.values()) < 3:
        fail(f"hub jobs by status: {jobs}")
    for family in ("fleetsim_http_request_duration_seconds", "fleetsim_store_commit_duration_seconds"):
        check_histogram(families[family])
    print(f"ok: python metrics: {len(families)} families parsed; {int(dispatched)} dispatched; jobs {jobs}")


def check_histogram(family):
    """Buckets are cumulative and the +Inf bucket equals the count, per label set."""
    by_labels = {}
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        by_labels.setdefault(key, []).append(s)
    for key, samples in by_labels.items():
        buckets = [s for s in samples if s.name.endswith("_bucket")]
        counts = [s.value for s in buckets]
        if counts != sorted(counts):
            fail(f"{family.name}{key}: buckets not cumulative: {counts}")
        count = [s.value for s in samples if s.name.endswith("_count")][0]
        if buckets[-1].labels["le"] != "+Inf" or buckets[-1].value != count:
            fail(f"{family.name}{key}: +Inf bucket {buckets[-1].value} != count {count}")


if __name__ == "__main__":
    main()
