/**
 * The promises a chaos run tested, kept as tests: real CLI processes (workers paused past
 * their lock with SIGSTOP, two runs of one file at once, a run stopped for good), a real
 * Redis and the simulator with --on-duplicate allow, so a double enrollment would show.
 * Each asserts the promise: no duplicate factor, exact rows, the right exit and message.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { buildScenario, type Scenario } from '../helpers/scenario.js';
import { redisUrl } from '../helpers/redis.js';
import { runCli, startCli } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';
import { useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('chaos');
const TOKEN = 'chaos-token-0123456789abcdef';
const FAST = ['--lock-duration-ms', '2000', '--stalled-interval-ms', '1000', '--reconcile-interval-ms', '1000'];
const LIMITS = ['--rate-limit', '1000000', '--users-rate-limit', '1000000', '--logs-rate-limit', '100000', '--log-interval-ms', '200'];

function env(): NodeJS.ProcessEnv {
  return { OKTA_API_TOKEN: TOKEN, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: ws.prefix, OKTA_ORG_URL: ws.sim!.url };
}

async function status(runId: string): Promise<{ state: string; done: number; total: number; finished: boolean; reason?: string }> {
  const s = await runCli(['status', runId, '--json'], { env: env() });
  if (s.code !== 0) throw new Error(`status failed: ${s.stderr}`);
  return JSON.parse(s.stdout);
}

async function until(what: string, pred: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function exact(rows: Array<Record<string, string>>, scenario: Scenario) {
  expect(rows).toHaveLength(scenario.expected.length);
  const bad = scenario.expected.map((e, i) => ({ e, r: rows[i]! })).filter(({ e, r }) => r.outcome !== e.outcome || (e.errorCode !== undefined && r.errorCode !== e.errorCode));
  expect(bad.slice(0, 5)).toEqual([]);
}

describe('chaos findings', () => {
  it('a worker paused past its lock enrolls nobody again', async () => {
    const scenario = buildScenario(ws.dir, { users: 240, seed: 7, scanMs: [300, 1500] });
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 4000, onDuplicate: 'allow', latencyMs: [150, 250], rateLimit: 1_000_000, token: TOKEN });
    const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '200'], { env: env() });
    expect(enq.code, enq.stderr).toBe(0);
    const runId = enq.stdout.trim().split('\n').pop()!;
    const worker = () => startCli(['worker', ...LIMITS, '--concurrency', '40', ...FAST, '--log-file', join(ws.dir, 'w.log')], { env: env() });
    const a = worker();
    worker();
    await until('enrollments under way', async () => (await status(runId)).done > 30);
    a.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 5000)); // well past the 2 s lock: the other worker takes its jobs over
    a.child.kill('SIGCONT');
    await until('the run to finish', async () => (await status(runId)).finished, 120_000);
    const file = join(ws.dir, 'report.csv');
    expect((await runCli(['report', runId, '--out', file], { env: env() })).code).toBe(0);
    const rows = readReportFile(file);
    // Every duplicate that could still happen is reported on its row, never silent; and none should happen.
    const reported = rows.filter((r) => r.errorCode === 'DUPLICATE_FACTOR').length;
    expect(ws.sim.stats().duplicateEnrollments).toBe(reported);
    expect(reported).toBe(0);
    exact(rows, scenario);
  }, 180_000);

  it('two runs of the same file at once: each user enrolled once, the second run adopts or waits', async () => {
    const scenario = buildScenario(ws.dir, { users: 120, seed: 3, scanMs: [200, 800] });
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2500, onDuplicate: 'allow', latencyMs: [20, 60], rateLimit: 1_000_000, token: TOKEN });
    const args = (n: string) => ['run', scenario.inputCsv, '--report', join(ws.dir, `${n}.csv`), '--poll-initial-ms', '200', ...LIMITS, ...FAST, '--log-file', join(ws.dir, `${n}.log`)];
    const [first, second] = await Promise.all([runCli(args('a'), { env: env(), timeoutMs: 150_000 }), runCli(args('b'), { env: env(), timeoutMs: 150_000 })]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(ws.sim.stats().duplicateEnrollments).toBe(0);
    const a = readReportFile(join(ws.dir, 'a.csv'));
    const b = readReportFile(join(ws.dir, 'b.csv'));
    for (const rows of [a, b]) {
      expect(rows).toHaveLength(scenario.expected.length);
      expect(rows.every((r) => r.outcome !== 'pending')).toBe(true);
    }
    // A user enrolled by one run shows the same factor in the other's report (adopted), never a second one.
    a.forEach((r, i) => {
      const other = b[i]!;
      if (r.factorId && other.factorId && r.errorCode !== 'DUPLICATE_ROW' && other.errorCode !== 'DUPLICATE_ROW') expect(other.factorId).toBe(r.factorId);
    });
  }, 180_000);

  it('a run stopped by a fatal error stays stopped: a worker started later leaves it alone, resume finishes it', async () => {
    const scenario = buildScenario(ws.dir, { users: 40, seed: 9, scanMs: [200, 600] });
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2500, rateLimit: 1_000_000, token: TOKEN });
    const report = join(ws.dir, 'report.csv');
    const bad = await runCli(['run', scenario.inputCsv, '--report', report, ...LIMITS, ...FAST], { env: { ...env(), OKTA_API_TOKEN: 'a-wrong-token-0123456789' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/rejected the credentials/);
    const runId = /resume (\S+)/.exec(bad.stderr)?.[1];
    expect(runId).toBeDefined();
    expect(await status(runId!)).toMatchObject({ state: 'stopped' });
    const enrollsBefore = ws.sim.stats().enrollCalls;
    const w = startCli(['worker', ...LIMITS, ...FAST], { env: env() });
    await w.waitForOutput(/worker started/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(ws.sim.stats().enrollCalls).toBe(enrollsBefore);
    expect((await status(runId!)).state).toBe('stopped');
    w.child.kill('SIGTERM');
    await w.exited;
    const resumed = await runCli(['resume', runId!, '--report', report, ...LIMITS, ...FAST], { env: env(), timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    exact(readReportFile(report), scenario);
  }, 150_000);

  it('pause, unpause and cancel from any machine; a cancelled run cannot be resumed', async () => {
    const scenario = buildScenario(ws.dir, { users: 60, seed: 13, scanMs: [200, 600] });
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2500, latencyMs: [30, 60], rateLimit: 1_000_000, token: TOKEN });
    const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '200'], { env: env() });
    const runId = enq.stdout.trim().split('\n').pop()!;
    const paused = await runCli(['pause', runId, '--reason', 'change freeze'], { env: env() });
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain('active → paused');
    const w = startCli(['worker', ...LIMITS, ...FAST], { env: env() });
    await w.waitForOutput(/worker started/);
    await new Promise((r) => setTimeout(r, 2000));
    expect(ws.sim.stats().enrollCalls).toBe(0);
    expect(await status(runId)).toMatchObject({ state: 'paused', reason: expect.stringContaining('change freeze') });
    expect((await runCli(['unpause', runId], { env: env() })).code).toBe(0);
    await until('the run to finish', async () => (await status(runId)).finished, 90_000);
    w.child.kill('SIGTERM');
    await w.exited;

    writeFileSync(join(ws.dir, 'again.csv'), 'userId,factorType\n00unevergoingtorun000,push\n');
    const enq2 = await runCli(['enqueue', join(ws.dir, 'again.csv')], { env: env() });
    const second = enq2.stdout.trim().split('\n').pop()!;
    const cancelled = await runCli(['cancel', second], { env: env() });
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const resume = await runCli(['resume', second, '--report', join(ws.dir, 'x.csv'), ...LIMITS], { env: env() });
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/was cancelled/);
    expect((await runCli(['cancel', runId], { env: env() })).stderr).toMatch(/finished/);
  }, 150_000);

  it('a report that cannot be written is refused before anyone is enrolled; one that fails at the end says how to get it', async () => {
    const scenario = buildScenario(ws.dir, { users: 20, seed: 19, scanMs: [200, 500] });
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2000, rateLimit: 1_000_000, token: TOKEN });
    const refused = await runCli(['run', scenario.inputCsv, '--report', ws.dir, ...LIMITS], { env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--report: .*(folder|directory)/);
    expect(ws.sim.stats().requests.total).toBe(0);
    expect((await runCli(['status', '--json'], { env: env() })).stdout.trim()).toBe('[]');

    const later = join(ws.dir, 'out', 'report.csv');
    const run = startCli(['run', scenario.inputCsv, '--report', later, '--poll-initial-ms', '200', ...LIMITS, ...FAST], { env: env() });
    const runId = (await run.waitForOutput(/run (\d{8}-\d{6}-[a-z0-9]+) started/))[1]!;
    writeFileSync(join(ws.dir, 'out'), 'a file where the report folder should be'); // the folder can no longer be made
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain(`bulk-enroll report ${runId} --out`);
    expect(run.stdout()).not.toMatch(/^Report:/m);
  }, 120_000);

  it('an absurd X-Rate-Limit-Reset pauses nothing for years, warns no timer overflow, and the run ends', async () => {
    const scenario = buildScenario(ws.dir, { users: 40, seed: 17, scanMs: [200, 600] });
    // 2 s windows: the bucket shows its real resets first, so a pause is clamped to about one window.
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 2500, rateLimit: 1_000_000, rateWindowMs: 2000, latencyMs: [20, 40], token: TOKEN });
    const report = join(ws.dir, 'report.csv');
    const run = startCli(['run', scenario.inputCsv, '--report', report, '--poll-initial-ms', '200', '--concurrency', '4', ...LIMITS, ...FAST], { env: env() });
    const runId = (await run.waitForOutput(/run (\d{8}-\d{6}-[a-z0-9]+) started/))[1]!;
    await until('a few rows done', async () => (await status(runId)).done > 8);
    ws.sim.setFaults({ absurdReset: 1 });
    const started = Date.now();
    expect(await run.exited, run.stderr()).toBe(0);
    // Bounded by about a window of the bucket (2 s here), not years; generous for a loaded machine.
    expect(Date.now() - started).toBeLessThan(100_000);
    expect(run.stderr()).not.toMatch(/TimeoutOverflowWarning/);
    expect(run.stderr()).toMatch(/X-Rate-Limit-Reset/);
    exact(readReportFile(report), scenario);
  }, 150_000);
});
