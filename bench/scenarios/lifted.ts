/**
 * Lifted: no rate limit, no concurrency limit, no latency, users who scan at once.
 * Users per second end to end (before the CSV is read → report written), beside the
 * machine's own ceiling measured in the same run on the same Redis: bare BullMQ
 * trivial jobs per second (a Queue and a Worker with concurrency 100, no-op jobs
 * added with addBulk). A user costs at least 2 jobs (enroll, poll) and 2 calls.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Scope } from '../lib/cleanup.js';
import { runInProcess } from '../lib/runner.js';
import { commandStats, commandsPer, population, privateRedis, tempDir } from '../lib/setup.js';
import { startSimProcess } from '../lib/sim.js';
import { fmt } from '../lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from '../lib/types.js';

const RUNNER_FLAGS = { concurrency: '200', maxConcurrent: '75', maxInFlight: '20000', rateLimit: '10000000', usersRateLimit: '10000000' };

export function liftedCases(ctx: BenchContext): Case[] {
  const users = ctx.quick ? 2000 : 20_000;
  return [
    {
      id: 'lifted',
      scenario: 'lifted',
      run: () => runLifted(users, ctx),
      row: (m: Measurement | undefined): TableRow => {
        const target = '≥ 2,000 users/s';
        if (!m) return { scenario: 'Lifted limits', result: 'failed (see above)', target, verdict: '—', note: '' };
        const x = m.metrics;
        return {
          scenario: 'Lifted limits',
          result: `${fmt(x.usersPerSec!)} users/s end to end; bare BullMQ ${fmt(x.baselineJobsPerSec!)} jobs/s; ratio ${fmt(x.ratio!, 3)}`,
          target,
          verdict: x.usersPerSec! >= 2000 ? 'met' : 'not met',
          note:
            `${fmt(x.users!)} users scanning at once, in ${fmt(x.totalSec!, 1)} s (first enrollment after ${fmt(x.firstEnrollSec!, 1)} s, first enrollment to last outcome ${fmt(x.outcomeSpanSec!, 1)} s); ` +
            `${fmt(x.callsPerUser!, 2)} calls/user; runner --concurrency 200 --max-concurrent 75 --max-in-flight 20000 --poll-initial-ms 20 --deliver none, detect ${m.info.detect}. ` +
            `Ratio = users/s ÷ bare jobs/s (${fmt(x.baselineJobs!)} no-op jobs, concurrency 100, addBulk of 1,000); a user needs ≥ 2 jobs, so 0.5 is BullMQ's own ceiling. ` +
            `Redis commands executed per user ${fmt(x.redisPerUser!, 1)} (INFO commandstats, commands inside Lua scripts included; busiest: ${m.info.redisTopPerUser}) against ${fmt(x.redisPerJob!, 1)} per bare job (${m.info.redisTopPerJob}).`,
        };
      },
    },
  ];
}

/** Bare BullMQ: `jobs` no-op jobs through one Worker (concurrency 100); jobs per second from the first add to the last completion. */
export async function bareBullmq(redisUrl: string, jobs: number): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => undefined);
  workerConnection.on('error', () => undefined);
  const prefix = 'bench-baseline';
  const queue = new Queue('noop', { connection, prefix });
  let done = 0;
  let resolveDone!: () => void;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const worker = new Worker(
    'noop',
    async () => {
      // a trivial job
    },
    { connection: workerConnection, prefix, concurrency: 100, removeOnComplete: { count: 0 } },
  );
  worker.on('completed', () => {
    if (++done === jobs) resolveDone();
  });
  worker.on('error', () => undefined);
  try {
    await worker.waitUntilReady();
    const started = performance.now();
    for (let i = 0; i < jobs; i += 1000) {
      const n = Math.min(1000, jobs - i);
      await queue.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true } })));
    }
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`bare BullMQ: expected ${jobs} completions within 120 s, got ${done}`)), 120_000).unref());
    await Promise.race([allDone, timeout]);
    return jobs / ((performance.now() - started) / 1000);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  }
}

const min = (v: number[]) => v.reduce((a, b) => Math.min(a, b), Infinity);
const max = (v: number[]) => v.reduce((a, b) => Math.max(a, b), -Infinity);

async function runLifted(users: number, ctx: BenchContext): Promise<Measurement> {
  const scope = new Scope('lifted');
  try {
    const dir = tempDir(scope, 'lifted');
    const redis = await privateRedis(scope);
    const baselineJobs = users;
    const c0 = await commandStats(redis.url);
    const baselineJobsPerSec = await bareBullmq(redis.url, baselineJobs);
    const c1 = await commandStats(redis.url);
    const pop = await population(dir, users, { scanDelayMs: [0, 0] });
    const sim = await startSimProcess(scope, {
      usersCsv: pop.directory,
      rateLimit: 10_000_000,
      rateWindowMs: 60_000,
      logsRateLimit: 10_000_000,
      concurrencyLimit: 1_000_000,
      latencyMs: 0,
      requestLogSize: 0,
    });
    const runFlags = { deliver: 'none', pollInitialMs: '20', ...(ctx.detect?.poll ?? {}) };
    const run = await runInProcess(scope, {
      csv: pop.input,
      dir,
      simUrl: sim.url,
      token: sim.token,
      redisUrl: redis.url,
      prefix: 'bench',
      processFlags: RUNNER_FLAGS,
      runFlags,
      timeoutMs: ctx.quick ? 120_000 : 300_000,
    });
    const c2 = await commandStats(redis.url);
    const perJob = commandsPer(c0, c1, baselineJobs);
    const perUser = commandsPer(c1, c2, users);
    const stats = await sim.stats();
    const finished = run.rows.map((r) => Date.parse(r.finishedAt ?? '')).filter(Number.isFinite);
    const enrolled = run.rows.map((r) => Date.parse(r.enrolledAt ?? '')).filter(Number.isFinite);
    const totalSec = (run.endedAt - run.startedAt) / 1000;
    const usersPerSec = users / totalSec;
    const activated = run.rows.filter((r) => r.outcome === 'activated').length;
    if (activated !== users) throw new Error(`lifted: expected all ${users} rows activated, got ${activated}`);
    return {
      metrics: {
        users,
        totalSec,
        usersPerSec,
        firstEnrollSec: (min(enrolled) - run.startedAt) / 1000,
        outcomeSpanSec: (max(finished) - min(enrolled)) / 1000,
        callsPerUser: stats.requests.total / users,
        baselineJobs,
        baselineJobsPerSec,
        ratio: usersPerSec / baselineJobsPerSec,
        redisPerUser: perUser.total,
        redisPerJob: perJob.total,
      },
      info: { detect: String(run.settings.detect ?? 'poll'), redisTopPerUser: perUser.top, redisTopPerJob: perJob.top },
    };
  } finally {
    await scope.close();
  }
}
