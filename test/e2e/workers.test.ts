/**
 * The scale-out shape: `enqueue` + two `worker` processes + `status` + `report`, all
 * separate processes on one Redis (test/helpers/redis.ts) and the real simulator,
 * gives the same outcomes as `run`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildScenario } from '../helpers/scenario.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { killAll, runCli, startCli } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';

let dir: string;
let sim: SimulatorHandle | undefined;
let prefix: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-workers-'));
  prefix = uniquePrefix('workers');
});
afterEach(async () => {
  await killAll();
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

it('enqueue + two worker processes + status + report match the expected outcomes', async () => {
  const scenario = buildScenario(dir, { users: 120, seed: 7 });
  const token = 'workers-token-abcdef123456';
  sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, onDuplicate: 'allow', rateLimit: 100_000, token });
  const env = { OKTA_API_TOKEN: token, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: prefix, OKTA_ORG_URL: sim.url };
  const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '100'], { env });
  expect(enq.code, enq.stderr).toBe(0);
  const runId = enq.stdout.trim().split('\n').pop()!;
  expect(runId).toMatch(/^[0-9]{8}-[0-9]{6}-[a-z0-9]+$/);

  const workerArgs = ['worker', '--rate-limit', '100000', '--users-rate-limit', '100000', '--log-file', join(dir, 'w.log')];
  const w1 = startCli(workerArgs, { env });
  const w2 = startCli(workerArgs, { env });

  const deadline = Date.now() + 60_000;
  let status: { finished: boolean; total: number; done: number; outcomes: Record<string, number> } | undefined;
  while (Date.now() < deadline) {
    const s = await runCli(['status', runId, '--json'], { env });
    expect(s.code, s.stderr).toBe(0);
    status = JSON.parse(s.stdout);
    if (status!.finished) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(status?.finished).toBe(true);
  expect(status!.total).toBe(scenario.expected.length);
  expect(status!.done).toBe(scenario.expected.length);

  const reportFile = join(dir, 'report.csv');
  const rep = await runCli(['report', runId, '--out', reportFile], { env });
  expect(rep.code, rep.stderr).toBe(0);
  const rows = readReportFile(reportFile);
  const bad = scenario.expected.filter((e, i) => rows[i]?.outcome !== e.outcome || (e.errorCode && rows[i]?.errorCode !== e.errorCode));
  expect(bad).toEqual([]);
  expect(status!.outcomes.activated).toBe(scenario.expected.filter((e) => e.outcome === 'activated').length);
  expect(sim.stats().duplicateEnrollments).toBe(0);

  // graceful stop
  w1.child.kill('SIGTERM');
  w2.child.kill('SIGTERM');
  expect(await w1.exited).toBe(0);
  expect(await w2.exited).toBe(0);
});
