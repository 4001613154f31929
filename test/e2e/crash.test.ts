/**
 * Crash safety with real processes, a real Redis and the real simulator: workers
 * killed with SIGKILL while enrollments are in flight, Redis restarted gracefully and
 * killed hard (a private redis-server with AOF, started by the test). Every row must
 * end with its expected outcome and no user may hold two factors of one type (the
 * simulator runs with --on-duplicate allow, so a double enrollment would show).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { startLocalRedis, type LocalRedis } from '../../src/redis/local-redis.js';
import { buildScenario, type Scenario } from '../helpers/scenario.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { killAll, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';

let dir: string;
let sim: SimulatorHandle | undefined;
let redis: LocalRedis | undefined;
let prefix: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-crash-'));
  prefix = uniquePrefix('crash');
});
afterEach(async () => {
  await killAll();
  await sim?.close();
  sim = undefined;
  if (redis) await redis.stop();
  else await cleanPrefix(redisUrl(), prefix);
  redis = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const FAST = ['--lock-duration-ms', '2000', '--stalled-interval-ms', '1000', '--reconcile-interval-ms', '1500'];

async function status(env: NodeJS.ProcessEnv, runId: string): Promise<{ finished: boolean; done: number; total: number }> {
  const s = await runCli(['status', runId, '--json'], { env });
  if (s.code !== 0) throw new Error(`status failed: ${s.stderr}`);
  return JSON.parse(s.stdout);
}

async function waitUntil(env: NodeJS.ProcessEnv, runId: string, pred: (s: { finished: boolean; done: number; total: number }) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(env, runId).catch(() => undefined);
    if (s && pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out; last status ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function checkReport(env: NodeJS.ProcessEnv, runId: string, scenario: Scenario) {
  const file = join(dir, 'report.csv');
  const rep = await runCli(['report', runId, '--out', file], { env });
  expect(rep.code, rep.stderr).toBe(0);
  const rows = readReportFile(file);
  expect(rows).toHaveLength(scenario.expected.length);
  const bad = scenario.expected
    .map((e, i) => ({ e, r: rows[i]! }))
    .filter(({ e, r }) => r.outcome !== e.outcome || (e.errorCode !== undefined && r.errorCode !== e.errorCode));
  expect(bad.slice(0, 5)).toEqual([]);
  expect(sim!.stats().duplicateEnrollments).toBe(0);
}

function workers(n: number, env: NodeJS.ProcessEnv): CliProcess[] {
  return Array.from({ length: n }, () =>
    startCli(['worker', '--rate-limit', '1000000', '--users-rate-limit', '1000000', '--concurrency', '100', '--max-in-flight', '800', ...FAST, '--log-file', join(dir, 'w.log')], { env }),
  );
}

describe('crash safety', () => {
  it('survives two workers killed with SIGKILL mid-run, then a replacement', async () => {
    const scenario = buildScenario(dir, { users: 400, seed: 11, scanMs: [300, 2500] });
    const token = 'crash-token-0123456789abcdef';
    sim = await startSimulator({
      usersCsv: scenario.directoryCsv,
      activationTtlMs: 4000,
      onDuplicate: 'allow',
      latencyMs: [5, 40],
      rateLimit: 1_000_000,
      token,
    });
    const env = { OKTA_API_TOKEN: token, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
    const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '200'], { env });
    expect(enq.code, enq.stderr).toBe(0);
    const runId = enq.stdout.trim().split('\n').pop()!;
    const [a, b] = workers(2, env);
    await waitUntil(env, runId, (s) => s.done > scenario.expected.length * 0.15, 60_000);
    a!.child.kill('SIGKILL');
    await waitUntil(env, runId, (s) => s.done > scenario.expected.length * 0.4, 60_000);
    b!.child.kill('SIGKILL');
    workers(1, env);
    await waitUntil(env, runId, (s) => s.finished, 120_000);
    await checkReport(env, runId, scenario);
  }, 240_000);

  for (const mode of ['graceful', 'hard'] as const) {
    it(`survives a Redis restart (${mode}) mid-run`, async () => {
      redis = await startLocalRedis({ appendOnly: true, appendFsync: 'everysec' });
      const scenario = buildScenario(dir, { users: 250, seed: 5, scanMs: [300, 2000] });
      const token = 'redis-token-0123456789abcdef';
      sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 4000, onDuplicate: 'allow', latencyMs: [5, 30], rateLimit: 1_000_000, token });
      const env = { OKTA_API_TOKEN: token, REDIS_URL: redis.url, BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
      const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '200'], { env });
      expect(enq.code, enq.stderr).toBe(0);
      const runId = enq.stdout.trim().split('\n').pop()!;
      workers(2, env);
      await waitUntil(env, runId, (s) => s.done > scenario.expected.length * 0.25, 60_000);
      if (mode === 'graceful') await redis.stop({ keepDir: true });
      else await redis.kill({ keepDir: true });
      await new Promise((r) => setTimeout(r, 1500));
      redis = await redis.restart();
      await waitUntil(env, runId, (s) => s.finished, 120_000);
      await checkReport(env, runId, scenario);
    }, 240_000);
  }
});

describe('interrupted run', () => {
  it('Ctrl-C stops `run` cleanly and `resume` finishes it with exact outcomes', async () => {
    const scenario = buildScenario(dir, { users: 300, seed: 21, scanMs: [500, 2500] });
    const token = 'resume-token-0123456789abcdef';
    sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 3000, onDuplicate: 'allow', latencyMs: [5, 20], rateLimit: 1_000_000, token });
    const env = { OKTA_API_TOKEN: token, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
    const report = join(dir, 'report.csv');
    const args = ['--rate-limit', '1000000', '--users-rate-limit', '1000000', ...FAST, '--log-file', join(dir, 'run.log')];
    const run = startCli(['run', scenario.inputCsv, '--report', report, '--poll-initial-ms', '200', ...args], { env });
    const started = await run.waitForOutput(/run (\d{8}-\d{6}-[a-z0-9]+)/, 30_000);
    const runId = started[1]!;
    await waitUntil(env, runId, (s) => s.done > 60, 60_000);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toContain(`bulk-enroll resume ${runId}`);
    const mid = await status(env, runId);
    expect(mid.finished).toBe(false);
    const resumed = await runCli(['resume', runId, '--report', report, ...args], { env, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`${scenario.expected.length} rows`);
    await checkReport(env, runId, scenario);
  }, 240_000);
});

describe('Redis gone for good', () => {
  it('`run` gives up after the reconnect window with exit 1, and `resume` finishes once Redis is back', async () => {
    redis = await startLocalRedis({ appendOnly: true, appendFsync: 'always' });
    const scenario = buildScenario(dir, { users: 200, seed: 31, scanMs: [300, 1500] });
    const token = 'gone-token-0123456789abcdef';
    sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 3000, onDuplicate: 'allow', latencyMs: [10, 40], rateLimit: 1_000_000, token });
    const env = { OKTA_API_TOKEN: token, REDIS_URL: redis.url, BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
    const report = join(dir, 'report.csv');
    const args = ['--rate-limit', '1000000', '--users-rate-limit', '1000000', ...FAST, '--log-file', join(dir, 'run.log')];
    const run = startCli(['run', scenario.inputCsv, '--report', report, '--poll-initial-ms', '200', '--redis-reconnect-window-ms', '2000', ...args], { env });
    const runId = (await run.waitForOutput(/run (\d{8}-\d{6}-[a-z0-9]+)/, 30_000))[1]!;
    await waitUntil(env, runId, (s) => s.done > 20, 60_000);
    await redis.kill({ keepDir: true });
    const t0 = Date.now();
    const code = await run.exited;
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect(run.stderr()).toMatch(/unreachable/);
    expect(run.stderr()).toContain(`bulk-enroll resume ${runId}`);
    redis = await redis.restart();
    const resumed = await runCli(['resume', runId, '--report', report, ...args], { env, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    await checkReport(env, runId, scenario);
  }, 240_000);
});
