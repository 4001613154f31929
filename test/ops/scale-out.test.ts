/**
 * Scale-out: three `bulk-enroll worker` processes on one run, one Redis
 * (test/helpers/redis.ts) and one budget. The real simulator (with some latency, so
 * requests overlap) sees at most --max-concurrent requests at once and no more than
 * --rate-limit calls per second to the factors bucket, across all three processes,
 * and every row gets its outcome.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { createRedis } from '../../src/queue/connection.js';
import { RunStore } from '../../src/runs/store.js';
import { reportRows } from '../../src/runs/report-rows.js';
import { readCallStats } from '../../src/progress.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { killAll, runCli, startCli, type CliProcess } from '../helpers/cli.js';

const RATE_PER_MINUTE = 1200; // 20 calls/s for the whole cluster
const MAX_CONCURRENT = 3;
const WORKERS = 3;
const ROWS = 30;

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-scale-'));
  prefix = uniquePrefix('scale');
});
afterEach(async () => {
  await killAll();
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

/** Most requests in any window of `ms` (times in epoch ms, sorted). */
function peakIn(times: number[], ms: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

it(`${WORKERS} worker processes share one budget: peak concurrency and rate stay within the limits`, async () => {
  const dirLines = ['id,login,activation'];
  const input = ['userId,factorType'];
  for (let i = 0; i < ROWS; i++) {
    const id = `00uscale${String(i).padStart(12, '0')}`;
    dirLines.push(`${id},scale${i}@example.com,${i % 5 === 0 ? 'never' : 100 + (i % 4) * 100}`);
    input.push(`${id},push`);
  }
  writeFileSync(join(dir, 'directory.csv'), `${dirLines.join('\n')}\n`);
  writeFileSync(join(dir, 'input.csv'), `${input.join('\n')}\n`);
  const token = 'scale-token-0123456789';
  sim = await startSimulator({
    usersCsv: join(dir, 'directory.csv'),
    activationTtlMs: 2500,
    latencyMs: [30, 60],
    rateLimit: 100_000,
    requestLogSize: 10_000,
    token,
  });
  const env = { OKTA_API_TOKEN: token, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
  const enq = await runCli(['enqueue', join(dir, 'input.csv'), '--poll-initial-ms', '200', '--detect', 'poll'], { env });
  expect(enq.code, enq.stderr).toBe(0);
  const runId = enq.stdout.trim().split('\n').pop()!;

  const workers: CliProcess[] = [];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(
      startCli(
        ['worker', '--rate-limit', String(RATE_PER_MINUTE), '--max-concurrent', String(MAX_CONCURRENT), '--concurrency', '20', '--log-file', join(dir, `w${i}.log`), '--log-level', 'warn'],
        { env },
      ),
    );
  }
  const redis = createRedis(redisUrl());
  try {
    const store = new RunStore(redis, prefix);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await store.getMeta(runId))?.state !== 'finished') await new Promise((r) => setTimeout(r, 250));
    expect((await store.getMeta(runId))?.state).toBe('finished');

    const outcomes: string[] = [];
    for await (const r of reportRows(store, runId)) outcomes.push(r.outcome);
    expect(outcomes).toHaveLength(ROWS);
    expect(outcomes.filter((o) => o === 'expired')).toHaveLength(ROWS / 5);
    expect(outcomes.filter((o) => o === 'activated')).toHaveLength(ROWS - ROWS / 5);

    const stats = sim.stats();
    expect(stats.duplicateEnrollments).toBe(0);
    expect(stats.rateLimited).toBe(0);
    // Concurrency: never more than --max-concurrent requests at Okta at once, across all processes.
    expect(stats.maxConcurrent).toBeGreaterThan(0);
    expect(stats.maxConcurrent).toBeLessThanOrEqual(MAX_CONCURRENT);
    // Rate: the factors bucket, measured at the simulator.
    const times = sim
      .requests()
      .filter((r) => r.path.includes('/factors'))
      .map((r) => Date.parse(r.at))
      .sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(ROWS);
    const perSecond = RATE_PER_MINUTE / 60;
    const spanS = (times[times.length - 1]! - times[0]!) / 1000;
    // Evenly paced: the whole run took at least as long as the budget requires (less one call of slack) ...
    expect(spanS).toBeGreaterThanOrEqual((times.length - 1) / perSecond - 1 / perSecond - 0.25);
    // ... and no stretch of T seconds held more than the limiter's bound (src/limiter/scripts.ts:
    // rate × T + one batch + 1), plus 200 ms worth of calls for the time between a grant and
    // the simulator's log entry (sending, 30–60 ms of latency, a busy event loop).
    for (const seconds of [1, 2, 5]) {
      const bound = Math.floor(perSecond * seconds) + 2 + Math.ceil(perSecond * 0.2);
      expect(peakIn(times, seconds * 1000), `calls in any ${seconds} s (${times.length} calls over ${spanS.toFixed(1)} s)`).toBeLessThanOrEqual(bound);
    }
    // Every worker took part in it (each published its limiter's counters).
    const calls = await readCallStats(redis, prefix);
    expect(calls.processes).toBeGreaterThanOrEqual(WORKERS);
  } finally {
    redis.disconnect();
  }
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) expect(await w.exited).toBe(0);
});
