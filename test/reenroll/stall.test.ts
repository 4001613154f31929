/**
 * A nightly job whose worker process dies (SIGKILL) mid-night: BullMQ's stalled-job
 * check hands the same job to another worker, which takes its run lock over (same job
 * id: not an overlap) and resumes the run the lock names instead of starting a second
 * one. Real worker process (test/helpers/cli.ts), real Redis, real simulator.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scheduleCommand } from '../../src/commands/schedule.js';
import { writeReport, type ReportRow } from '../../src/csv/report.js';
import { loadProcessConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startRuntime, type Runtime } from '../../src/queue/runtime.js';
import { tasks } from '../../jobs/index.js';
import { QUEUES } from '../../src/runs/keys.js';
import { RunStore } from '../../src/runs/store.js';
import { ScheduleStore } from '../../src/reenroll/schedules.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { killAll, startCli } from '../helpers/cli.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { commonFlags, sink, TOKEN, userId, writeDirectory } from './helpers.js';

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;
let runtime: Runtime | undefined;
let redis: Redis | undefined;
let queue: Queue | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-stall-'));
  prefix = uniquePrefix('stall');
});
afterEach(async () => {
  await killAll();
  await runtime?.close();
  runtime = undefined;
  await queue?.close();
  redis?.disconnect();
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a stalled nightly job re-run by BullMQ takes its own lock over and resumes its run', async () => {
  const users = [0, 1, 2].map((i) => ({ id: userId(40 + i), login: `u${i}@example.com`, activation: '3000' }));
  sim = await startSimulator({ usersCsv: writeDirectory(dir, users), activationTtlMs: 10_000, rateLimit: 100_000, token: TOKEN });
  const flags = commonFlags(sim.url, prefix, dir);
  // A report saying they expired (none has a factor yet: each night enrolls them).
  const from = join(dir, 'from.csv');
  const blank = { login: '', factorType: 'push', provider: 'OKTA', deviceName: '', status: '', factorId: '', errorCode: '', errorSummary: '', attempts: '1', enrolledAt: '', finishedAt: '', note: '', delivery: '' };
  await writeReport(from, users.map((u, i): ReportRow => ({ ...blank, row: String(i + 1), userId: u.id, outcome: 'expired' })));
  const reportDir = join(dir, 'reports');
  await scheduleCommand({ redis: redisUrl(), prefix, name: 'nightly', every: '600000', from, reportDir, pollInitialMs: '100', pollMaxMs: '200' }, { out: sink().out });

  const env = { OKTA_API_TOKEN: TOKEN, OKTA_ORG_URL: sim.url, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix };
  const timing = ['--lock-duration-ms', '1000', '--stalled-interval-ms', '500', '--reconcile-interval-ms', '1000'];
  const a = startCli(['worker', '--rate-limit', '100000', '--users-rate-limit', '100000', ...timing, '--log-file', join(dir, 'a.log')], { env });

  // Worker A takes the tick and starts the night's run.
  redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const schedules = new ScheduleStore(redis, prefix);
  const held = await until(`the night to start in worker A`, async () => {
    if (a.child.exitCode !== null) throw new Error(`worker A exited: ${a.stderr()}`);
    const r = await schedules.lock('nightly', 60_000).read();
    return r?.runId ? r : undefined;
  });
  const store = new RunStore(redis, prefix);
  await until('rows of the night in flight', async () => (await store.getMeta(held.runId!))?.state === 'active');
  a.child.kill('SIGKILL');
  await a.exited;

  // Worker B: BullMQ hands it the stalled job; it takes the lock over and resumes the same run.
  const config = loadProcessConfig({ ...flags, lockDurationMs: '1000', stalledIntervalMs: '500' }, { env: { OKTA_API_TOKEN: TOKEN } });
  runtime = await startRuntime({ config, tasks, logger: createLogger({ level: 'info', file: join(dir, 'b.log'), console: false }), control: { lockTtlMs: 3000, waitIntervalMs: 100 } });
  const done = await until('the night to finish in worker B', async () => {
    const s = await schedules.get('nightly');
    return s?.lastRunId ? s : undefined;
  });
  expect(done.lastRunId).toBe(held.runId);

  queue = new Queue(QUEUES.control, { connection: redis, prefix });
  const job = await queue.getJob(held.jobId);
  expect(job?.returnvalue).toMatchObject({ kind: 'finished', runId: held.runId, resumed: true });
  // One night, one run; nobody enrolled twice.
  const nightly = (await Promise.all((await store.listRuns(100)).map((id) => store.getMeta(id)))).filter((m) => m?.fileName === 'schedule nightly');
  expect(nightly.map((m) => m!.id)).toEqual([held.runId]);
  expect(sim.stats().duplicateEnrollments).toBe(0);
  const report = join(reportDir, `nightly-${held.runId}.csv`);
  expect(existsSync(report)).toBe(true);
  expect(readReportFile(report).map((r) => [r.row, r.outcome])).toEqual([['1', 'activated'], ['2', 'activated'], ['3', 'activated']]);
  expect((await schedules.lock('nightly', 1000).read())).toBeUndefined();
  await scheduleCommand({ redis: redisUrl(), prefix, remove: 'nightly' }, { out: sink().out });
});
