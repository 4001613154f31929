/**
 * The scale-out shape: `enqueue` + two `worker` processes + `status` + `report`, all
 * separate processes on one Redis (test/helpers/redis.ts) and the real simulator,
 * gives the same outcomes as `run`.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { buildScenario } from '../helpers/scenario.js';
import { redisUrl } from '../helpers/redis.js';
import { runCli, startCli } from '../helpers/cli.js';
import { readReportFile } from '../helpers/report.js';
import { useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('workers');

it('enqueue + two worker processes + status + report match the expected outcomes', async () => {
  const scenario = buildScenario(ws.dir, { users: 120, seed: 7 });
  const token = 'workers-token-abcdef123456';
  ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, onDuplicate: 'allow', rateLimit: 100_000, token });
  const env = { OKTA_API_TOKEN: token, REDIS_URL: redisUrl(), BULK_ENROLL_PREFIX: ws.prefix, OKTA_ORG_URL: ws.sim.url };
  const enq = await runCli(['enqueue', scenario.inputCsv, '--poll-initial-ms', '100'], { env });
  expect(enq.code, enq.stderr).toBe(0);
  const runId = enq.stdout.trim().split('\n').pop()!;
  expect(runId).toMatch(/^[0-9]{8}-[0-9]{6}-[a-z0-9]+$/);

  const workerArgs = ['worker', '--rate-limit', '100000', '--users-rate-limit', '100000', '--log-file', join(ws.dir, 'w.log')];
  const w1 = startCli(workerArgs, { env });
  const w2 = startCli(workerArgs, { env });
  // an operator watching from elsewhere: progress lines until the run finishes, then the counts
  const watch = startCli(['status', runId, '--watch'], { env });

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

  const reportFile = join(ws.dir, 'report.csv');
  const rep = await runCli(['report', runId, '--out', reportFile], { env });
  expect(rep.code, rep.stderr).toBe(0);
  const rows = readReportFile(reportFile);
  const bad = scenario.expected.filter((e, i) => rows[i]?.outcome !== e.outcome || (e.errorCode && rows[i]?.errorCode !== e.errorCode));
  expect(bad).toEqual([]);
  expect(status!.outcomes.activated).toBe(scenario.expected.filter((e) => e.outcome === 'activated').length);
  expect(ws.sim.stats().duplicateEnrollments).toBe(0);

  expect(await watch.exited).toBe(0);
  expect(watch.stderr()).toMatch(new RegExp(`run ${runId}: \\d+/${scenario.expected.length} done \\(activated \\d+`));
  expect(watch.stdout()).toContain(`Run ${runId}: finished, ${scenario.expected.length}/${scenario.expected.length} rows done`);

  // graceful stop
  w1.child.kill('SIGTERM');
  w2.child.kill('SIGTERM');
  expect(await w1.exited).toBe(0);
  expect(await w2.exited).toBe(0);
});
