#!/usr/bin/env python3
"""The dashboard of `fleetsim serve` in a real headless Chromium (Playwright, Debian's browser).

Against a server started by tests/dashboard/run (tests/dashboard/fleet.toml, an IoT Central API
token and an IoT Hub key configured): creates an IoT Central job, a scheduled job and an IoT Hub
job over the REST API; opens `/`, which asks for credentials (401); gives the token; watches the
job's progress grow; opens the job (batches, devices, filter and page); presses Stop and sees the
job stopped on the page and in the API; checks the groups' member counts, the scheduled job's
next occurrences and the hub's throttling; scrapes /metrics with the Prometheus parser for the
hub model's gauges. Screenshots go to $SCREENSHOTS. Exits 1 with `FAILED: ...` at the first
check that does not hold.

Environment: FLEETSIM_URL, FLEETSIM_CENTRAL_TOKEN, FLEETSIM_HUB_KEY (iothubowner's key),
SCREENSHOTS (a directory), CHROMIUM (the browser binary).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import expect, sync_playwright
from prometheus_client.openmetrics.parser import text_string_to_metric_families

URL = os.environ["FLEETSIM_URL"]
TOKEN = os.environ["FLEETSIM_CENTRAL_TOKEN"]
SHOTS = os.environ["SCREENSHOTS"]
CV = "api-version=2022-07-31"
HV = "api-version=2021-04-12"


def fail(what):
    print(f"FAILED: dashboard: {what}")
    sys.exit(1)


def hub_sas():
    host = urllib.parse.urlparse(URL).netloc
    resource = urllib.parse.quote_plus(host)
    expiry = int(time.time()) + 3600
    key = base64.b64decode(os.environ["FLEETSIM_HUB_KEY"])
    signed = hmac.new(key, f"{resource}\n{expiry}".encode(), hashlib.sha256)
    sig = urllib.parse.quote_plus(base64.b64encode(signed.digest()).decode())
    return f"SharedAccessSignature sr={resource}&sig={sig}&se={expiry}&skn=iothubowner"


def call(method, path, body=None, auth=TOKEN):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Authorization", auth)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def create_jobs():
    job = {
        "displayName": "Set target temperature",
        "group": "all-thermostats",
        "batch": {"type": "percentage", "value": 10},
        "cancellationThreshold": {"type": "percentage", "value": 50, "batch": True},
        "data": [{"type": "PropertyJobData", "target": "dtmi:contoso:thermostat;1",
                  "path": "targetTemperature", "value": 21.5}],
    }
    status, body = call("PUT", f"/api/jobs/set-temp?{CV}", job)
    if status != 200:
        fail(f"creating the IoT Central job: {status} {body}")
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).replace(microsecond=0)
    scheduled = dict(job, enabled=True, schedule={"start": tomorrow.isoformat().replace("+00:00", "Z"),
                                     "recurrence": "daily", "end": {"type": "occurrences", "occurrences": 3}})
    status, body = call("PUT", f"/api/scheduledJobs/nightly?{CV}", scheduled)
    if status != 200:
        fail(f"creating the scheduled job: {status} {body}")
    hub_job = {"jobId": "reboot-one", "type": "scheduleDeviceMethod",
               "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 30},
               "queryCondition": "deviceId = 'dev-0007'", "maxExecutionTimeInSeconds": 600}
    status, body = call("PUT", f"/jobs/v2/reboot-one?{HV}", hub_job, auth=hub_sas())
    if status != 200:
        fail(f"creating the IoT Hub job: {status} {body}")
    return tomorrow


def done_count(page):
    text = page.locator('tr[data-job="central/set-temp"] td.counts').inner_text()
    m = re.match(r"(\d+)/(\d+) done", text)
    if not m:
        fail(f"the jobs table's counts read {text!r}")
    return int(m.group(1)), int(m.group(2))


def sign_in(page):
    page.goto(URL + "/")
    # Without credentials the page's data calls are refused: it asks for them.
    expect(page.locator("#credentials")).to_be_visible(timeout=10_000)
    expect(page.locator("#error")).to_contain_text("401")
    page.fill("#central-token", TOKEN)
    page.click("#credentials-form button[type=submit]")
    expect(page.locator("#credentials")).to_be_hidden()
    expect(page.locator('tr[data-job="central/set-temp"]')).to_be_visible(timeout=10_000)
    expect(page.locator('tr[data-job="hub/reboot-one"]')).to_be_visible()


def watch_progress(page):
    first, total = done_count(page)
    if total != 200:
        fail(f"the job targets {total} devices, expected 200")
    deadline = time.time() + 20
    while time.time() < deadline:
        now, _ = done_count(page)
        if 0 < now < 200 and now > first:
            return now
        time.sleep(0.2)
    fail(f"the progress did not grow: {first} then {done_count(page)[0]} of 200")


def check_job_panel(page):
    page.click('tr[data-job="central/set-temp"]')
    expect(page.locator("#job")).to_be_visible()
    expect(page.locator("#job-title")).to_have_text("set-temp")
    expect(page.locator("#timeline svg g.batch").first).to_be_visible(timeout=10_000)
    expect(page.locator("#job-summary")).to_contain_text("10 batches")
    expect(page.locator("#job-summary")).to_contain_text("threshold: 10 failures per batch")
    expect(page.locator("#devices tbody tr")).to_have_count(50, timeout=10_000)
    expect(page.locator("#stop")).to_be_enabled()


def press_stop(page):
    page.click("#stop")
    expect(page.locator("#job-status")).to_have_text("stopped", timeout=10_000)
    expect(page.locator('tr[data-job="central/set-temp"] .status')).to_have_text("stopped")
    expect(page.locator("#resume")).to_be_enabled()
    status, job = call("GET", f"/api/jobs/set-temp?{CV}")
    if status != 200 or job["status"] != "stopped":
        fail(f"the API says {status} {job}")
    # Stopped: nothing more is dispatched, so the progress holds once in-flight devices answer.
    time.sleep(2.5)
    settled = done_count(page)[0]
    time.sleep(2.5)
    if done_count(page)[0] != settled or settled >= 200:
        fail(f"a stopped job went on: {settled} then {done_count(page)[0]} done")
    return settled


def check_devices(page, settled):
    page.select_option("#device-state", "failed")
    page.click("#device-filter button[type=submit]")
    rows = page.locator("#devices tbody tr")
    # Batches of 20 in id order: dev-0003 fails in batch 1, dev-0123 in batch 7.
    expect(rows).to_have_count(1 if settled <= 120 else 2, timeout=10_000)
    expect(rows.first).to_contain_text("dev-0003")
    expect(rows.first).to_contain_text("device_error")
    page.select_option("#device-state", "")
    page.fill("#device-id", "dev-01")
    page.click("#device-filter button[type=submit]")
    expect(page.locator("#page")).to_contain_text("of 100 matching", timeout=10_000)
    page.click("#next")
    expect(page.locator("#page")).to_contain_text("51–100 of 100 matching", timeout=10_000)
    expect(page.locator("#devices tbody tr").first).to_contain_text("dev-0150")


def check_overview(page, tomorrow):
    expect(page.locator("#groups tbody tr td.members")).to_have_text("200")
    nxt = page.locator("#scheduled tbody tr td.next div")
    expect(nxt).to_have_count(3)
    expect(nxt.first).to_have_text(tomorrow.strftime("%Y-%m-%d %H:%M:%S UTC"))
    expect(page.locator('#hub tr[data-throttle="job_device_operations"]')).to_contain_text("10/s")
    expect(page.locator("#hub-jobs")).to_contain_text("of 1")


def check_metrics():
    status, text = call("GET", "/metrics")
    if status != 200:
        fail(f"/metrics answered {status}")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ["fleetsim_hub_rate_per_second", "fleetsim_hub_tokens_available",
                 "fleetsim_hub_queued_operations", "fleetsim_hub_jobs_waiting"]:
        if name not in families or families[name].type != "gauge":
            fail(f"/metrics has no gauge {name}")
    rates = {s.labels["throttle"]: s.value for s in families["fleetsim_hub_rate_per_second"].samples}
    if sorted(rates) != ["direct_methods", "job_device_operations", "twin_updates"]:
        fail(f"hub buckets {rates}")
    if rates["job_device_operations"] != 10.0 or rates["twin_updates"] != 50.0:
        fail(f"S1 hub rates: {rates}, expected 10/s job device operations and 50/s twin updates")
    waiting = families["fleetsim_hub_jobs_waiting"].samples[0].value
    if waiting != 1:
        fail(f"the IoT Hub job waits for the S1 hub's one job slot, held by the stopped job: {waiting} waiting")


def main():
    tomorrow = create_jobs()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page)
        progress = watch_progress(page)
        page.screenshot(path=f"{SHOTS}/1-progress.png", full_page=True)
        check_job_panel(page)
        page.screenshot(path=f"{SHOTS}/2-job.png", full_page=True)
        settled = press_stop(page)
        page.screenshot(path=f"{SHOTS}/3-stopped.png", full_page=True)
        check_devices(page, settled)
        check_overview(page, tomorrow)
        page.screenshot(path=f"{SHOTS}/4-devices-filtered.png", full_page=True)
        browser.close()
    if errors:
        fail(f"the page threw: {errors}")
    check_metrics()
    print(f"dashboard: progress seen at {progress}/200, stopped at {settled}/200; screenshots in {SHOTS}")


if __name__ == "__main__":
    main()
