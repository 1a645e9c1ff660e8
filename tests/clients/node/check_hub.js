#!/usr/bin/env node
// The official Node IoT Hub service client (azure-iothub) against `fleetsim serve`.
//
// Run by tests/clients/run against a server that serves tests/clients/fleet.toml over HTTPS on
// port 443 (the Node client's connection string carries no port) with a hub key. Environment:
//
//   FLEETSIM_HUB_CONNECTION_STRING  HostName=127.0.0.1;SharedAccessKeyName=...;SharedAccessKey=...
//   NODE_EXTRA_CA_CERTS             the server's (self-signed) certificate
//   NODE_PATH                       where `npm ci` put azure-iothub (target/clients/node/node_modules)
//
// Every check compares the values the client returns with the values the fleet and the API say
// they must be; the first mismatch prints `FAILED: node <check>: <what>: expected ..., got ...`
// and exits 1. The fleet: dev-00 .. dev-11, tag site = 'lab', every device answers in exactly
// 1 virtual second, dev-03 fails every device operation.
'use strict';

const { isDeepStrictEqual } = require('node:util');
const { Client, JobClient, Registry } = require('azure-iothub');
const { NoRetry } = require('azure-iothub/dist/common-core/retry_policy');

const DEVICES = Array.from({ length: 12 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
const FAILING = 'dev-03';
const ALL_LAB = "tags.site = 'lab'";

class Mismatch extends Error {}

function expect(what, actual, expected) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Mismatch(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** `call` must fail with HTTP `status` (and, when given, the client's error class `name`). */
async function httpError(what, call, status, name) {
  let result;
  try {
    result = await call();
  } catch (e) {
    if (!e.response) throw e;
    expect(`${what}: HTTP status`, e.response.statusCode, status);
    if (name) expect(`${what}: error class`, e.constructor.name, name);
    return e;
  }
  throw new Mismatch(`${what}: expected HTTP ${status}, got a success: ${JSON.stringify(result)}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(jobs, jobId, status, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await jobs.getJob(jobId)).jobStatus;
    if (job.status === status) return job;
    if (Date.now() > deadline) {
      throw new Mismatch(`job ${jobId}: status ${job.status} after ${timeoutMs} ms, expected ${status}`);
    }
    await sleep(50);
  }
}

function counts(deviceCount, succeededCount, failedCount) {
  return { deviceCount, failedCount, succeededCount, runningCount: 0, pendingCount: 0 };
}

function stats(job) {
  const s = job.deviceJobStatistics;
  return {
    deviceCount: s.deviceCount,
    failedCount: s.failedCount,
    succeededCount: s.succeededCount,
    runningCount: s.runningCount,
    pendingCount: s.pendingCount,
  };
}

/** JobClient.scheduleDeviceMethod, getJob until it completes. */
async function checkMethodJob({ jobs }) {
  const params = { methodName: 'reboot', payload: { delay: 1 }, responseTimeoutInSeconds: 30 };
  const created = (await jobs.scheduleDeviceMethod('node-reboot', ALL_LAB, params)).jobStatus;
  expect('created jobId', created.jobId, 'node-reboot');
  expect('created type', created.type, 'scheduleDeviceMethod');
  expect('created status', created.status, 'queued');
  expect('created cloudToDeviceMethod', created.cloudToDeviceMethod, params);
  expect('created queryCondition', created.queryCondition, ALL_LAB);
  const done = await waitFor(jobs, 'node-reboot', 'completed');
  expect('deviceJobStatistics', stats(done), counts(12, 11, 1));
  const tookMs = Date.parse(done.endTime) - Date.parse(done.startTime);
  expect('endTime - startTime (every device answers in 1 s)', tookMs, 1000);
}

/** JobClient.scheduleTwinUpdate; its writes show in Registry.getTwin. */
async function checkTwinJob({ jobs, registry }) {
  const patch = { etag: '*', tags: { ring: 'canary' }, properties: { desired: { targetTemperature: 21.5 } } };
  const condition = "deviceId IN ['dev-01', 'dev-02', 'dev-03']";
  const created = (await jobs.scheduleTwinUpdate('node-twin', condition, patch)).jobStatus;
  expect('created type', created.type, 'scheduleUpdateTwin');
  expect('created updateTwin', created.updateTwin, patch);
  const done = await waitFor(jobs, 'node-twin', 'completed');
  // A twin update has no device round trip: every target succeeds, dev-03 too, at once.
  expect('deviceJobStatistics', stats(done), counts(3, 3, 0));
  expect('endTime', done.endTime, done.startTime);
  for (const device of ['dev-01', 'dev-03']) {
    const twin = (await registry.getTwin(device)).responseBody;
    expect(`${device} tags`, twin.tags, { site: 'lab', ring: 'canary' });
    expect(`${device} desired`, twin.properties.desired, { $version: 2, targetTemperature: 21.5 });
  }
  const untouched = (await registry.getTwin('dev-04')).responseBody;
  expect('dev-04 tags (not a target)', untouched.tags, { site: 'lab' });
}

/** A job with a future start time is `scheduled`; JobClient.cancelJob cancels it. */
async function checkCancel({ jobs }) {
  const start = new Date(Math.floor(Date.now() / 1000) * 1000 + 7 * 86400 * 1000);
  const params = { methodName: 'getMaxMinReport', payload: {}, responseTimeoutInSeconds: 10 };
  const created = (await jobs.scheduleDeviceMethod('node-later', ALL_LAB, params, start, 600)).jobStatus;
  expect('created status', created.status, 'scheduled');
  const later = (await jobs.getJob('node-later')).jobStatus;
  expect('status', later.status, 'scheduled');
  expect('startTime', Date.parse(later.startTime), start.getTime());
  expect('maxExecutionTimeInSeconds', later.maxExecutionTimeInSeconds, 600);
  expect('cancelled status', (await jobs.cancelJob('node-later')).jobStatus.status, 'cancelled');
  const cancelled = (await jobs.getJob('node-later')).jobStatus;
  expect('status after cancel', cancelled.status, 'cancelled');
  expect('deviceJobStatistics', stats(cancelled), counts(0, 0, 0));
  await httpError('getJob of an unknown job', () => jobs.getJob('node-nothing'), 404);
}

/** Registry.listJobs: the import/export jobs (GET /jobs) are not simulated, the list is empty. */
async function checkImportExportJobs({ registry }) {
  expect('listJobs', (await registry.listJobs()).responseBody, []);
}

/** Every page of a JobClient.createQuery, following its continuation token. */
async function jobPages(jobs, jobType, jobStatus, pageSize) {
  const query = jobs.createQuery(jobType, jobStatus, pageSize);
  const pages = [];
  while (query.hasMoreResults) {
    // Query.next() without arguments in its promise form sends no continuation token (it
    // takes the missing argument for the token), so the token is passed explicitly.
    const page = await query.next(query.continuationToken);
    expect('x-ms-item-type', page.message.headers['x-ms-item-type'], 'JobResponse');
    pages.push(page.result.map((job) => job.jobId));
    if (pages.length > 20) throw new Mismatch(`jobs query: more than 20 pages of ${pageSize}`);
  }
  return pages;
}

/** JobClient.createQuery: pages, continuation, the jobType and jobStatus filters. */
async function checkJobQuery({ jobs }) {
  expect('pages of 1', await jobPages(jobs, undefined, undefined, 1), [['node-later'], ['node-reboot'], ['node-twin']]);
  expect('jobType scheduleUpdateTwin', await jobPages(jobs, 'scheduleUpdateTwin', undefined, 100), [['node-twin']]);
  expect('jobStatus cancelled', await jobPages(jobs, undefined, 'cancelled', 100), [['node-later']]);
  const both = await jobPages(jobs, 'scheduleDeviceMethod', 'completed', 100);
  expect('jobType and jobStatus', both, [['node-reboot']]);
}

/** Registry.createQuery with a page size, nextAsTwin and the continuation token. */
async function checkDeviceQuery({ registry }) {
  const query = registry.createQuery('SELECT * FROM devices', 5);
  const sizes = [];
  const ids = [];
  while (query.hasMoreResults && sizes.length <= 10) {
    const page = await query.nextAsTwin();
    expect('x-ms-item-type', page.message.headers['x-ms-item-type'], 'Twin');
    sizes.push(page.result.length);
    ids.push(...page.result.map((twin) => twin.deviceId));
  }
  expect('page sizes (5 a page)', sizes, [5, 5, 2]);
  expect('device ids over the pages', ids, DEVICES);
  const canary = registry.createQuery("SELECT * FROM devices WHERE tags.ring = 'canary'");
  const tagged = await canary.nextAsTwin();
  expect('devices the twin job tagged', tagged.result.map((t) => t.deviceId), ['dev-01', 'dev-02', 'dev-03']);
  expect('hasMoreResults after the last page', canary.hasMoreResults, false);
}

/** Registry.getTwin, updateTwin with the etag (and a stale one), Twin.update. */
async function checkTwinUpdate({ registry }) {
  const before = (await registry.getTwin('dev-05')).responseBody;
  expect('dev-05 tags', before.tags, { site: 'lab' });
  const patch = { tags: { owner: 'node' }, properties: { desired: { targetTemperature: 19.5 } } };
  const updated = (await registry.updateTwin('dev-05', patch, before.etag)).responseBody;
  expect('updated tags', updated.tags, { site: 'lab', owner: 'node' });
  expect('updated desired', updated.properties.desired, { $version: 2, targetTemperature: 19.5 });
  if (updated.etag === before.etag) throw new Mismatch(`updateTwin: the etag did not change (${updated.etag})`);
  const again = (await registry.getTwin('dev-05')).responseBody;
  expect('getTwin after update: tags', again.tags, updated.tags);
  expect('getTwin after update: etag', again.etag, updated.etag);
  const stale = () => registry.updateTwin('dev-05', { tags: { owner: 'stale' } }, before.etag);
  await httpError('updateTwin with a stale etag', stale, 412, 'InvalidEtagError');
  expect('tags after the refused update', (await registry.getTwin('dev-05')).responseBody.tags, updated.tags);
  await httpError('getTwin of an unknown device', () => registry.getTwin('dev-99'), 404, 'DeviceNotFoundError');
  // Twin.update: PATCH with the etag the Twin was read with; the Twin takes the answer.
  const twin = (await registry.getTwin('dev-06')).responseBody;
  const readEtag = twin.etag;
  await twin.update({ tags: { owner: 'node-twin' } });
  expect('Twin.update: tags', twin.tags, { site: 'lab', owner: 'node-twin' });
  expect('Twin.update: desired (a tags-only write keeps $version)', twin.properties.desired, { $version: 1 });
  if (twin.etag === readEtag) throw new Mismatch(`Twin.update: the etag did not change (${twin.etag})`);
}

/** Client.invokeDeviceMethod: a device that answers, one that fails, an unknown method and device. */
async function checkMethod({ client }) {
  const params = { methodName: 'reboot', payload: { delay: 1 }, responseTimeoutInSeconds: 30 };
  const answered = (await client.invokeDeviceMethod('dev-00', params)).result;
  expect('dev-00 reboot', answered, { status: 200, payload: null });
  const failed = (await client.invokeDeviceMethod(FAILING, params)).result;
  expect(`${FAILING} reboot status (it fails every operation)`, failed.status, 500);
  // A device answers a method it does not implement with 501, as the device SDKs do.
  const unknownMethod = { methodName: 'selfDestruct', payload: {}, responseTimeoutInSeconds: 30 };
  const unknown = (await client.invokeDeviceMethod('dev-00', unknownMethod)).result;
  expect('a method the template does not have', unknown.status, 501);
  await httpError('a device that does not exist', () => client.invokeDeviceMethod('dev-99', params), 404, 'DeviceNotFoundError');
}

/** A connection string with another key is refused (401). */
async function checkAuth({ conn }) {
  const wrongKey = Buffer.from('wrong key for the fleetsim client check').toString('base64');
  const wrong = Registry.fromConnectionString(conn.replace(/SharedAccessKey=[^;]*/, `SharedAccessKey=${wrongKey}`));
  await httpError('getTwin with a wrong key', () => wrong.getTwin('dev-00'), 401, 'UnauthorizedError');
}

const CHECKS = [
  checkMethodJob,
  checkTwinJob,
  checkCancel,
  checkImportExportJobs,
  checkJobQuery,
  checkDeviceQuery,
  checkTwinUpdate,
  checkMethod,
  checkAuth,
];

/** What went wrong, in a line or a stack: a client's HTTP error names its status and body. */
function describe(e) {
  if (e instanceof Mismatch) return e.message;
  if (e.response && e.response.statusCode) {
    const request = e.response.req ? `${e.response.req.method} ${e.response.req.path}` : 'a request';
    return `${e.constructor.name}: ${request} answered HTTP ${e.response.statusCode}: ${e.responseBody}`;
  }
  return `unexpected error: ${e.stack || e}`;
}

async function main() {
  const conn = process.env.FLEETSIM_HUB_CONNECTION_STRING;
  if (!conn) {
    console.error('FAILED: set FLEETSIM_HUB_CONNECTION_STRING');
    return 2;
  }
  const client = Client.fromConnectionString(conn);
  client.setRetryPolicy(new NoRetry());
  const clients = { conn, client, jobs: JobClient.fromConnectionString(conn), registry: Registry.fromConnectionString(conn) };
  for (const check of CHECKS) {
    try {
      await check(clients);
    } catch (e) {
      console.error(`FAILED: node ${check.name}: ${describe(e)}`);
      return 1;
    }
    console.log(`ok: node ${check.name}`);
  }
  console.log(`node client: ${CHECKS.length} checks passed`);
  return 0;
}

main().then((code) => process.exit(code));
