/**
 * /metrics and /healthz as a platform sees them. A real `worker` process (real Redis,
 * the real simulator over HTTP, an OTLP/HTTP receiver of our own) serves them on
 * --metrics-port 0: the Prometheus text parses, names, types and labels are there,
 * values move after a small run, traces of the queues arrive, /healthz answers 200 and
 * then 503 or nothing once SIGTERM stops the worker. In-process: /healthz turns 503 when
 * a private redis-server goes away or a stop is requested, and /metrics still answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { RunStore } from '../../src/runs/store.js';
import { ingestCsv } from '../../src/runs/ingest.js';
import { loadProcessConfig, loadRunSettings } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import { startRuntime, type Runtime } from '../../src/queue/runtime.js';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-redis.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { metricsSourceOf } from '../../src/metrics/source.js';
import { workerCommand } from '../../src/commands/worker.js';
import { ConfigError } from '../../src/errors.js';
import { buildScenario } from '../helpers/scenario.js';
import { redisUrl } from '../helpers/redis.js';
import { startCli } from '../helpers/cli.js';
import { useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('metrics');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format: TYPE lines and samples. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

/** A stand-in OpenTelemetry collector: records the span names of every OTLP/HTTP JSON export. */
async function startOtlpReceiver(): Promise<{ url: string; spans: Array<{ name: string; service?: string }>; close(): Promise<void> }> {
  const spans: Array<{ name: string; service?: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const doc = JSON.parse(body) as {
          resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans?: Array<{ spans?: Array<{ name: string }> }> }>;
        };
        for (const rs of doc.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ name: s.name, service });
      }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let otlp: Awaited<ReturnType<typeof startOtlpReceiver>> | undefined;
let runtime: Runtime | undefined;
let metrics: MetricsServer | undefined;
let privateRedis: LocalRedis | undefined;
afterEach(async () => {
  await metrics?.close();
  await runtime?.close();
  await privateRedis?.stop();
  await otlp?.close();
  otlp = runtime = metrics = privateRedis = undefined;
});

it('a worker serves Prometheus metrics and /healthz that follow a small run, sends queue traces, and stops serving on SIGTERM', async () => {
  const scenario = buildScenario(ws.dir, { users: 16, seed: 3, scanMs: [50, 300] });
  const token = 'metrics-token-abcdef123456';
  ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1200, rateLimit: 100_000, token });
  otlp = await startOtlpReceiver();
  const env = {
    OKTA_API_TOKEN: token,
    REDIS_URL: redisUrl(),
    BULK_ENROLL_PREFIX: ws.prefix,
    OKTA_ORG_URL: ws.sim.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  const worker = startCli(['worker', '--metrics-port', '0', '--rate-limit', '100000', '--users-rate-limit', '100000', '--log-interval-ms', '200'], { env });
  const url = (await worker.waitForOutput(/"metricsUrl":"(http:\/\/127\.0\.0\.1:\d+)"/))[1]!;

  // Like a readiness probe: 503 "starting" until the runtime is up, then 200.
  let health = await fetch(`${url}/healthz`);
  for (let i = 0; health.status === 503 && i < 100; i++) {
    expect(await health.json()).toMatchObject({ status: 'unavailable', reason: expect.stringContaining('starting') });
    await new Promise((r) => setTimeout(r, 50));
    health = await fetch(`${url}/healthz`);
  }
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok', redis: { up: true }, shuttingDown: false });

  const before = await scrape(url);
  const wanted: Array<[string, string]> = [
    ['bulk_enroll_okta_calls_total', 'counter'],
    ['bulk_enroll_okta_rate_limited_total', 'counter'],
    ['bulk_enroll_okta_calls_per_minute', 'gauge'],
    ['bulk_enroll_okta_budget_per_minute', 'gauge'],
    ['bulk_enroll_queue_jobs', 'gauge'],
    ['bulk_enroll_run_rows', 'gauge'],
    ['bulk_enroll_log_watcher_lag_seconds', 'gauge'],
    ['bulk_enroll_redis_ping_seconds', 'gauge'],
    ['bulk_enroll_redis_up', 'gauge'],
    ['process_resident_memory_bytes', 'gauge'],
  ];
  for (const [name, type] of wanted) {
    expect(before.types.get(name), name).toBe(type);
  }
  expect(value(before.samples, 'bulk_enroll_okta_calls_total', { bucket: 'factors' })).toBe(0);
  expect(value(before.samples, 'bulk_enroll_okta_budget_per_minute', { bucket: 'factors' })).toBe(100_000);
  expect(value(before.samples, 'bulk_enroll_redis_up')).toBe(1);
  expect(value(before.samples, 'bulk_enroll_redis_ping_seconds')).toBeGreaterThan(0);
  expect(value(before.samples, 'bulk_enroll_queue_jobs', { queue: 'enroll', state: 'waiting' })).toBe(0);
  expect(value(before.samples, 'bulk_enroll_info')).toBe(1);

  // A small run, enqueued from here as `enqueue` would.
  const redis = new Redis(redisUrl());
  let runId: string;
  try {
    runId = (await ingestCsv(new RunStore(redis, ws.prefix), scenario.inputCsv, loadRunSettings({ pollInitialMs: '100', deliver: 'none' }, {}), { command: 'enqueue' })).runId;
  } finally {
    redis.disconnect();
  }
  const expected = (o: string) => scenario.expected.filter((e) => e.outcome === o).length;

  // Scraped as Prometheus would, until the run's final counts show.
  let after = before;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    after = await scrape(url);
    if (value(after.samples, 'bulk_enroll_run_finished', { run_id: runId }) === 1) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(value(after.samples, 'bulk_enroll_run_finished', { run_id: runId })).toBe(1);
  expect(value(after.samples, 'bulk_enroll_run_size_rows', { run_id: runId })).toBe(scenario.expected.length);
  for (const outcome of ['activated', 'expired', 'failed']) {
    expect(value(after.samples, 'bulk_enroll_run_rows', { run_id: runId, state: outcome }), outcome).toBe(expected(outcome));
  }
  expect(value(after.samples, 'bulk_enroll_run_rows', { run_id: runId, state: 'in_flight' })).toBe(0);
  expect(value(after.samples, 'bulk_enroll_run_rows', { run_id: runId, state: 'queued' })).toBe(0);
  // Every enrolled user cost at least one factor call; unknown logins went to the users bucket.
  expect(value(after.samples, 'bulk_enroll_okta_calls_total', { bucket: 'factors' })).toBeGreaterThanOrEqual(expected('activated') + expected('expired'));
  expect(value(after.samples, 'bulk_enroll_okta_calls_total', { bucket: 'users' })).toBeGreaterThan(0);
  expect(value(after.samples, 'bulk_enroll_okta_calls_per_minute', { bucket: 'factors' })).toBeGreaterThan(0);
  expect(value(after.samples, 'bulk_enroll_okta_rate_limited_total', { bucket: 'factors', kind: 'bucket' })).toBe(0);
  // The System Log watcher runs every 200 ms here: its lag stays small while its passes succeed.
  const lag = value(after.samples, 'bulk_enroll_log_watcher_lag_seconds');
  expect(lag).toBeGreaterThanOrEqual(0);
  expect(lag).toBeLessThan(5);
  expect(after.samples.filter((s) => s.name === 'bulk_enroll_queue_jobs').map((s) => s.labels.queue)).toEqual(expect.arrayContaining(['enroll', 'poll']));

  // Every stderr line is a JSON object with an ISO timestamp (stderr is a pipe here).
  const lines = worker.stderr().trim().split('\n');
  for (const line of lines) {
    const rec = JSON.parse(line) as { timestamp: string; level: string; message: string };
    expect(new Date(rec.timestamp).toISOString()).toBe(rec.timestamp);
    expect(rec.level).toMatch(/^(error|warn|info|verbose|debug)$/);
  }

  // SIGTERM: /healthz answers 503 while the worker stops (or nothing once it is gone), then the port is closed.
  worker.child.kill('SIGTERM');
  const seen: Array<number | 'closed'> = [];
  while (worker.child.exitCode === null && seen.length < 400) {
    seen.push(await fetch(`${url}/healthz`).then((r) => r.status, () => 'closed' as const));
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(await worker.exited).toBe(0);
  // 200 only until the signal is handled; from the first 503 (or refused connection) on, never 200 again.
  const firstDown = seen.findIndex((s) => s !== 200);
  expect(seen.filter((s) => s !== 200 && s !== 503 && s !== 'closed')).toEqual([]);
  if (firstDown >= 0) expect(seen.slice(firstDown)).not.toContain(200);
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  expect(worker.stderr()).toContain('SIGTERM received');

  // The queues' spans reached the collector (flushed on stop at the latest).
  expect(otlp.spans.length).toBeGreaterThan(0);
  expect(otlp.spans.map((s) => s.name)).toEqual(expect.arrayContaining(['process enroll']));
  expect(new Set(otlp.spans.map((s) => s.service))).toEqual(new Set(['bulk-enroll']));
});

it('/healthz answers 503 with the reason when Redis goes away or a stop is requested; /metrics keeps answering', async () => {
  privateRedis = await startLocalRedis();
  const config = loadProcessConfig({ redis: privateRedis.url, prefix: ws.prefix, redisReconnectWindowMs: '600000' }, { needOkta: false, env: {} });
  runtime = await startRuntime({ config, logger: silentLogger(), workers: false });
  let stopping = false;
  metrics = await startMetricsServer({ source: metricsSourceOf(runtime, config, () => stopping), port: 0, host: '127.0.0.1', version: 'test' });

  const get = async (path: string) => {
    const res = await fetch(`${metrics!.url}${path}`);
    return { status: res.status, text: await res.text() };
  };
  expect((await get('/healthz')).status).toBe(200);

  stopping = true;
  const h1 = await get('/healthz');
  expect(h1.status).toBe(503);
  expect(JSON.parse(h1.text)).toMatchObject({ status: 'unavailable', shuttingDown: true, reason: expect.stringContaining('shutting down') });
  expect(value(parseMetrics((await get('/metrics')).text).samples, 'bulk_enroll_shutting_down')).toBe(1);
  stopping = false;

  await privateRedis.stop();
  privateRedis = undefined;
  const h2 = await get('/healthz');
  expect(h2.status).toBe(503);
  expect(JSON.parse(h2.text)).toMatchObject({ status: 'unavailable', redis: { up: false }, reason: expect.stringContaining('Redis unreachable') });
  const m = await get('/metrics');
  expect(m.status).toBe(200);
  const down = parseMetrics(m.text).samples;
  expect(value(down, 'bulk_enroll_redis_up')).toBe(0);
  expect(value(down, 'bulk_enroll_redis_ping_seconds')).toBeNaN();

  expect((await get('/nothing')).status).toBe(404);
  expect((await fetch(`${metrics.url}/metrics`, { method: 'POST' })).status).toBe(405);
});

it('a port that is taken is refused with the flag named, before the worker takes any job', async () => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  const port = (holder.address() as AddressInfo).port;
  try {
    const env = { OKTA_API_TOKEN: 'metrics-token-abcdef123456', REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: ws.prefix, OKTA_ORG_URL: 'https://example.okta.com', BULK_ENROLL_LOG_LEVEL: 'error' };
    const err = await workerCommand({ metricsPort: String(port) }, { env }).catch((e: unknown) => e);
    // cli.ts turns a ConfigError into exit code 2 and prints its problems.
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([`--metrics-port ${port} / --metrics-host 127.0.0.1: the port is already in use (another worker on this machine? give each its own port, or 0 for any free one)`]);
    // Nothing was started: no limiter or call counters were published under the prefix.
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.keys(`${ws.prefix}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  } finally {
    await new Promise<void>((r) => holder.close(() => r()));
  }
});
