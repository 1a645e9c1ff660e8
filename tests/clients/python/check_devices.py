#!/usr/bin/env python3
"""Real device code on the official Python device SDK (azure-iot-device) joins a simulated fleet.

Run by tests/clients/run against `fleetsim serve` serving tests/clients/hybrid.toml over HTTPS
(port 443, for MQTT over WebSockets) and MQTT over TLS (port 8883), with a hub key and an IoT
Central token. Environment:

  FLEETSIM_HUB_CONNECTION_STRING  HostName=127.0.0.1:PORT;SharedAccessKeyName=...;SharedAccessKey=...
  FLEETSIM_CENTRAL_TOKEN          the IoT Central API token the server accepts
  FLEETSIM_DEVICE_KEY             the fleet key (--device-key) device keys are derived from
  REQUESTS_CA_BUNDLE              the server's (self-signed) certificate

The fleet: dev-00000 .. dev-10002 (10,003 devices), template dtmi:contoso:thermostat;1 with
writable targetTemperature and command reboot; dev-00000 .. dev-00002 are `external` (real code
connects as them); every simulated device answers in 200 ms and never fails. Three SDK clients
connect: dev-00000 answers `reboot` with 200, dev-00001 with 500, dev-00002 (over WebSockets)
never answers. Each check prints `FAILED: ...` and exits 1 at the first mismatch.
"""

import base64
import hashlib
import hmac
import os
import sys
import threading
import time
import traceback

import requests
from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, JobRequest, QuerySpecification, Twin, TwinProperties

FLEET = 10_003
TEMPLATE = "dtmi:contoso:thermostat;1"
OK, ERR, MUTE = "dev-00000", "dev-00001", "dev-00002"


class Mismatch(Exception):
    """A value is not the one it must be."""


def expect(what, actual, expected):
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def eventually(what, predicate, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise Mismatch(f"{what}: not within {timeout_s} s")
        time.sleep(0.05)


def device_key(fleet_key, device_id):
    """A device's key, as DPS derives group-enrollment keys (docs/devices.md)."""
    mac = hmac.new(base64.b64decode(fleet_key), device_id.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class Device:
    """One SDK client: answers `reboot` with `status` (None: never), acknowledges writable
    properties with `ac` = `ack`, reports desired `interval` back."""

    def __init__(self, device_id, status, ack, websockets=False):
        self.id = device_id
        self.status = status
        self.ack = ack
        self.patches = []
        self.methods = []
        self.quit_on = None
        self.quit = threading.Event()
        key = device_key(os.environ["FLEETSIM_DEVICE_KEY"], device_id)
        cs = f"HostName=127.0.0.1;DeviceId={device_id};SharedAccessKey={key}"
        cert = open(os.environ["REQUESTS_CA_BUNDLE"]).read()
        self.client = IoTHubDeviceClient.create_from_connection_string(
            cs, server_verification_cert=cert, websockets=websockets
        )
        self.client.on_method_request_received = self.on_method
        self.client.on_twin_desired_properties_patch_received = self.on_patch

    def connect(self):
        self.client.connect()
        twin = self.client.get_twin()
        expect(f"{self.id}: get_twin() has desired and reported", sorted(twin), ["desired", "reported"])

    def on_method(self, request):
        self.methods.append((request.name, request.payload))
        if self.quit_on == request.name:
            self.quit.set()  # disconnects without answering (see check_disconnect)
            return
        if self.status is not None:
            response = MethodResponse.create_from_method_request(request, self.status, {"by": self.id})
            self.client.send_method_response(response)

    def on_patch(self, patch):
        self.patches.append(patch)
        reported = {}
        if "interval" in patch:
            reported["interval"] = patch["interval"]
        if "targetTemperature" in patch:
            reported["targetTemperature"] = {
                "value": patch["targetTemperature"],
                "ac": self.ack,
                "av": patch["$version"],
                "ad": "applied" if self.ack == 200 else "refused",
            }
        if reported:
            self.client.patch_twin_reported_properties(reported)


def wait_job(jobs, job_id, status="completed", timeout_s=60.0):
    job = None

    def done():
        nonlocal job
        job = jobs.get_scheduled_job(job_id)
        return job.status == status

    eventually(f"job {job_id} {status}", done, timeout_s)
    return job


def stats(job):
    s = job.device_job_statistics
    return (s.device_count, s.succeeded_count, s.failed_count, s.running_count, s.pending_count)


def check_method_job(jobs, registry, devices):
    """scheduleDeviceMethod over 10,003 devices: the real answers are the real clients' outcomes."""
    method = CloudToDeviceMethod(method_name="reboot", payload={"why": "test"}, response_timeout_in_seconds=5)
    request = JobRequest(job_id="py-dev-reboot", type="scheduleDeviceMethod", cloud_to_device_method=method,
                         query_condition="*", max_execution_time_in_seconds=600)
    jobs.create_scheduled_job("py-dev-reboot", request)
    done = wait_job(jobs, "py-dev-reboot")
    # Every simulated device succeeds; dev-00001 answers 500, dev-00002 never answers.
    expect("statistics (devices, succeeded, failed, running, pending)", stats(done), (FLEET, FLEET - 2, 2, 0, 0))
    for d in devices:
        expect(f"{d.id} got the method", d.methods[:1], [("reboot", {"why": "test"})])
    spec = QuerySpecification(query="SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'py-dev-reboot'")
    # query_iot_hub() reads every item as a Twin: the raw answer keeps the job rows. The real
    # devices are the first targets (targets are in device id order), so on the first page.
    raw = registry.protocol.query.get_twins(spec, None, 100, None, True)
    expect("x-ms-item-type", raw.headers["x-ms-item-type"], "DeviceJob")
    rows = {r["deviceId"]: r for r in raw.response.json() if r["deviceId"] in (OK, ERR, MUTE)}
    expect(f"{OK} per-device status", rows[OK]["status"], "completed")
    expect(f"{OK} method response", rows[OK]["outcome"]["deviceMethodResponse"], {"status": 200, "payload": {"by": OK}})
    expect(f"{ERR} per-device status", rows[ERR]["status"], "failed")
    expect(f"{ERR} method response", rows[ERR]["outcome"]["deviceMethodResponse"], {"status": 500, "payload": {"by": ERR}})
    expect(f"{MUTE} per-device status", rows[MUTE]["status"], "failed")
    expect(f"{MUTE} error", rows[MUTE]["error"]["code"], "response_timeout")


def check_twin_job(jobs, registry, devices):
    """scheduleUpdateTwin: the desired patch reaches the real client, which reports back."""
    ok = devices[0]
    patch = Twin(etag="*", properties=TwinProperties(desired={"interval": 7}))
    request = JobRequest(job_id="py-dev-twin", type="scheduleUpdateTwin", update_twin=patch,
                         query_condition=f"deviceId IN ['{OK}', 'dev-00100']")
    jobs.create_scheduled_job("py-dev-twin", request)
    expect("statistics", stats(wait_job(jobs, "py-dev-twin")), (2, 2, 0, 0, 0))
    eventually("the desired patch reached dev-00000", lambda: any(p.get("interval") == 7 for p in ok.patches))
    eventually("dev-00000 reported interval 7",
               lambda: registry.get_twin(OK).properties.reported.get("interval") == 7)


def central(method, path, body=None):
    base = "https://" + dict(p.split("=", 1) for p in os.environ["FLEETSIM_HUB_CONNECTION_STRING"].split(";"))["HostName"]
    headers = {"Authorization": os.environ["FLEETSIM_CENTRAL_TOKEN"]}
    r = requests.request(method, f"{base}/api{path}?api-version=2022-07-31", json=body, headers=headers, timeout=30)
    if r.status_code >= 300:
        raise Mismatch(f"{method} /api{path}: HTTP {r.status_code}: {r.text}")
    return r.json() if r.content else None


def check_central_property_job(devices):
    """An IoT Central property job: the device's {"value", "ac", "av"} acknowledgement is its outcome."""
    central("PUT", "/deviceGroups/real", {"displayName": "real", "filter": f'SELECT * FROM devices WHERE $id = "{OK}" OR $id = "{ERR}"'})
    data = [{"type": "property", "target": TEMPLATE, "path": "targetTemperature", "value": 23.5}]
    central("PUT", "/jobs/py-dev-prop", {"displayName": "set", "group": "real", "data": data})
    eventually("the property job completes", lambda: central("GET", "/jobs/py-dev-prop")["status"] == "complete")
    listed = {d["id"]: d["status"] for d in central("GET", "/jobs/py-dev-prop/devices")["value"]}
    expect("per-device results (dev-00000 acknowledges 200, dev-00001 500)", listed, {OK: "completed", ERR: "failed"})
    for d in devices[:2]:
        expect(f"{d.id} got the desired value", [p.get("targetTemperature") for p in d.patches if "targetTemperature" in p], [23.5])


def check_disconnect(jobs, devices):
    """A client that disconnects mid-job: its method times out; then it is offline."""
    ok = devices[0]
    ok.quit_on = "shutdown"
    method = CloudToDeviceMethod(method_name="shutdown", payload={}, response_timeout_in_seconds=5)
    request = JobRequest(job_id="py-dev-quit", type="scheduleDeviceMethod", cloud_to_device_method=method,
                         query_condition=f"deviceId = '{OK}'")
    jobs.create_scheduled_job("py-dev-quit", request)
    eventually("dev-00000 got the method", ok.quit.is_set)
    ok.client.shutdown()
    expect("statistics (timed out)", stats(wait_job(jobs, "py-dev-quit")), (1, 0, 1, 0, 0))
    # Now offline: a method with no connect timeout fails at once.
    method = CloudToDeviceMethod(method_name="reboot", payload={}, response_timeout_in_seconds=30)
    request = JobRequest(job_id="py-dev-offline", type="scheduleDeviceMethod", cloud_to_device_method=method,
                         query_condition=f"deviceId = '{OK}'")
    jobs.create_scheduled_job("py-dev-offline", request)
    expect("statistics (offline)", stats(wait_job(jobs, "py-dev-offline", timeout_s=10)), (1, 0, 1, 0, 0))


def main():
    cs = os.environ["FLEETSIM_HUB_CONNECTION_STRING"]
    jobs = IoTHubJobManager.from_connection_string(cs)
    registry = IoTHubRegistryManager.from_connection_string(cs)
    devices = [Device(OK, 200, 200), Device(ERR, 500, 500), Device(MUTE, None, 200, websockets=True)]
    checks = [check_method_job, check_twin_job, check_central_property_job, check_disconnect]
    try:
        for d in devices:
            d.connect()
        devices[0].client.send_message(Message('{"temperature": 21}'))
        for check in checks:
            args = {"check_central_property_job": (devices,)}.get(check.__name__, (jobs, registry, devices))
            if check is check_disconnect:
                args = (jobs, devices)
            check(*args)
            print(f"ok: {check.__name__}", flush=True)
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        traceback.print_exc()
        print(f"FAILED: {e}", flush=True)
        return 1
    finally:
        for d in devices:
            try:
                d.client.shutdown()
            except Exception:  # noqa: BLE001
                pass
    print(f"the Python device SDK checks passed ({len(checks)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
