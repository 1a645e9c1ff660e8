#!/usr/bin/env node
// Real device code on the official Node device SDK (azure-iot-device with
// azure-iot-device-mqtt) joins a simulated fleet served by `fleetsim serve`.
//
// Run by tests/clients/run against a server that serves tests/clients/hybrid.toml over HTTPS on
// port 443 (MQTT over WebSockets is at /$iothub/websocket there) and MQTT over TLS on port
// 8883, with a hub key and an IoT Central token. Environment:
//
//   FLEETSIM_HUB_CONNECTION_STRING  HostName=127.0.0.1;SharedAccessKeyName=...;SharedAccessKey=...
//   FLEETSIM_CENTRAL_TOKEN          the IoT Central API token the server accepts
//   FLEETSIM_DEVICE_KEY             the fleet key (--device-key) device keys are derived from
//   NODE_EXTRA_CA_CERTS             the server's (self-signed) certificate
//   NODE_PATH                       target/clients/node/node_modules
//
// The fleet: 10,003 thermostats dev-00000 .. dev-10002; dev-00000 .. dev-00002 are `external`;
// every simulated device answers in 200 ms and never fails. Three clients connect: dev-00000
// (MQTT) answers `reboot` with 200, dev-00001 (MQTT) with 500, dev-00002 (MQTT over
// WebSockets) never answers. The first mismatch prints `FAILED: node <check>: ...`, exits 1.
'use strict';

const crypto = require('node:crypto');
const https = require('node:https');
const { isDeepStrictEqual } = require('node:util');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { JobClient, Registry } = require('azure-iothub');

const FLEET = 10003;
const [OK, ERR, MUTE] = ['dev-00000', 'dev-00001', 'dev-00002'];

class Mismatch extends Error {}

function expect(what, actual, expected) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Mismatch(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(what, predicate, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Mismatch(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A device's key, as DPS derives group-enrollment keys (docs/devices.md). */
function deviceKey(fleetKey, id) {
  return crypto.createHmac('sha256', Buffer.from(fleetKey, 'base64')).update(id).digest('base64');
}

/** One SDK client: answers `reboot` with `status` (null: never), acknowledges desired
 * targetTemperature with `ac` = status, reports desired `interval` back. */
class Device {
  constructor(id, status, transport) {
    const key = deviceKey(process.env.FLEETSIM_DEVICE_KEY, id);
    this.id = id;
    this.status = status;
    this.patches = [];
    this.methods = [];
    this.client = DeviceClient.fromConnectionString(`HostName=127.0.0.1;DeviceId=${id};SharedAccessKey=${key}`, transport);
  }

  async open() {
    await this.client.open();
    this.client.onDeviceMethod('reboot', (request, response) => {
      this.methods.push([request.methodName, request.payload]);
      if (this.status !== null) response.send(this.status, { by: this.id }, () => {});
    });
    this.twin = await this.client.getTwin();
    expect(`${this.id}: twin has desired`, typeof this.twin.properties.desired.$version, 'number');
    this.twin.on('properties.desired', (delta) => this.onDesired(delta));
  }

  onDesired(delta) {
    this.patches.push(delta);
    const reported = {};
    if (delta.interval !== undefined) reported.interval = delta.interval;
    if (delta.targetTemperature !== undefined) {
      reported.targetTemperature = { value: delta.targetTemperature, ac: this.status ?? 200, av: delta.$version };
    }
    if (Object.keys(reported).length > 0) this.twin.properties.reported.update(reported, () => {});
  }
}

async function waitJob(jobs, id, status = 'completed', timeoutMs = 60000) {
  let job;
  await eventually(`job ${id} ${status}`, async () => {
    job = (await jobs.getJob(id)).jobStatus;
    return job.status === status;
  }, timeoutMs);
  return job;
}

function stats(job) {
  const s = job.deviceJobStatistics;
  return [s.deviceCount, s.succeededCount, s.failedCount, s.runningCount, s.pendingCount];
}

function central(method, path, body) {
  const host = /HostName=([^;]*)/.exec(process.env.FLEETSIM_HUB_CONNECTION_STRING)[1];
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host, port: 443, method, path: `/api${path}?api-version=2022-07-31`,
      headers: { Authorization: process.env.FLEETSIM_CENTRAL_TOKEN, 'Content-Type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode >= 300
        ? reject(new Mismatch(`${method} /api${path}: HTTP ${res.statusCode}: ${text}`))
        : resolve(text ? JSON.parse(text) : null)));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** scheduleDeviceMethod over 10,003 devices: the real clients' answers are their outcomes. */
async function checkMethodJob({ jobs, devices }) {
  const params = { methodName: 'reboot', payload: { why: 'node' }, responseTimeoutInSeconds: 5 };
  await jobs.scheduleDeviceMethod('node-dev-reboot', '*', params);
  const done = await waitJob(jobs, 'node-dev-reboot');
  expect('statistics [devices, succeeded, failed, running, pending]', stats(done), [FLEET, FLEET - 2, 2, 0, 0]);
  for (const d of devices) expect(`${d.id} got the method`, d.methods, [['reboot', { why: 'node' }]]);
}

/** scheduleUpdateTwin: the desired patch reaches the real client, which reports back. */
async function checkTwinJob({ jobs, registry, devices }) {
  const patch = { etag: '*', properties: { desired: { interval: 9 } } };
  await jobs.scheduleTwinUpdate('node-dev-twin', `deviceId = '${OK}'`, patch);
  expect('statistics', stats(await waitJob(jobs, 'node-dev-twin')), [1, 1, 0, 0, 0]);
  await eventually('the desired patch reached dev-00000', () => devices[0].patches.some((p) => p.interval === 9));
  await eventually('dev-00000 reported interval 9', async () => {
    const twin = (await registry.getTwin(OK)).responseBody;
    return twin.properties.reported.interval === 9;
  });
}

/** An IoT Central property job acknowledged with {"value", "ac", "av"}. */
async function checkPropertyJob() {
  await central('PUT', '/deviceGroups/real', { displayName: 'real', filter: `SELECT * FROM devices WHERE $id = "${OK}" OR $id = "${ERR}"` });
  const data = [{ type: 'property', target: 'dtmi:contoso:thermostat;1', path: 'targetTemperature', value: 19 }];
  await central('PUT', '/jobs/node-dev-prop', { displayName: 'set', group: 'real', data });
  await eventually('the property job completes', async () => (await central('GET', '/jobs/node-dev-prop')).status === 'complete');
  const listed = Object.fromEntries((await central('GET', '/jobs/node-dev-prop/devices')).value.map((d) => [d.id, d.status]));
  expect('per-device results (dev-00000 acknowledges 200, dev-00001 500)', listed, { [OK]: 'completed', [ERR]: 'failed' });
}

/** A client that disconnects mid-job: its method times out; then it is offline. */
async function checkDisconnect({ jobs, devices }) {
  const ok = devices[0];
  ok.status = null; // holds the next call...
  const params = { methodName: 'reboot', payload: {}, responseTimeoutInSeconds: 5 };
  await jobs.scheduleDeviceMethod('node-dev-quit', `deviceId = '${OK}'`, params);
  await eventually('dev-00000 got the method', () => ok.methods.length === 2);
  await ok.client.close(); // ...and leaves without answering
  expect('statistics (timed out)', stats(await waitJob(jobs, 'node-dev-quit')), [1, 0, 1, 0, 0]);
  await jobs.scheduleDeviceMethod('node-dev-offline', `deviceId = '${OK}'`, { ...params, responseTimeoutInSeconds: 30 });
  expect('statistics (offline)', stats(await waitJob(jobs, 'node-dev-offline', 'completed', 10000)), [1, 0, 1, 0, 0]);
}

const CHECKS = [checkMethodJob, checkTwinJob, checkPropertyJob, checkDisconnect];

async function main() {
  const conn = process.env.FLEETSIM_HUB_CONNECTION_STRING;
  const devices = [new Device(OK, 200, Mqtt), new Device(ERR, 500, Mqtt), new Device(MUTE, null, MqttWs)];
  const ctx = { jobs: JobClient.fromConnectionString(conn), registry: Registry.fromConnectionString(conn), devices };
  let code = 0;
  try {
    for (const d of devices) await d.open();
    await devices[1].client.sendEvent(new Message(JSON.stringify({ temperature: 20 })));
    for (const check of CHECKS) {
      await check(ctx);
      console.log(`ok: node ${check.name}`);
    }
    console.log(`the Node device SDK checks passed (${CHECKS.length} checks)`);
  } catch (e) {
    console.log(`FAILED: node: ${e instanceof Mismatch ? e.message : e.stack || e}`);
    code = 1;
  } finally {
    for (const d of devices) await d.client.close().catch(() => {});
  }
  return code;
}

main().then((code) => process.exit(code));
