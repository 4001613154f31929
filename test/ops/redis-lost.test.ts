/**
 * Records that vanish while a run is active: a redis-server without persistence
 * (started by the test) restarted empty under a running `run` (the CLI, against the
 * simulator with latency) must end with exit 1 and a message that says what was lost
 * and what to do, never an empty report with exit 0; a `worker` whose runs' keys are
 * deleted under it (a flush) stops the same way.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enqueueCommand } from '../../src/commands/enqueue.js';
import { workerCommand } from '../../src/commands/worker.js';
import { createRedis } from '../../src/queue/connection.js';
import { RedisRecordsLostError } from '../../src/redis/errors.js';
import { startSimulator } from '../../src/simulator/index.js';
import { startCli } from '../helpers/cli.js';
import { buildScenario } from '../helpers/scenario.js';
import { useRedisServers } from '../helpers/redis-server.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('redis-lost');
const servers = useRedisServers();

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('records that vanish', () => {
  it('run: Redis restarted empty mid-run ends with exit 1 and says the records were lost, with no report', async () => {
    let redis = await servers.start();
    const scenario = buildScenario(ws.dir, { users: 200, seed: 17, scanMs: [3000, 6000] });
    const token = 'lost-token-0123456789abcdef';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 20_000, latencyMs: [30, 80], rateLimit: 1_000_000, token });
    const report = join(ws.dir, 'report.csv');
    const run = startCli(['run', scenario.inputCsv, '--report', report, '--rate-limit', '1000000', '--users-rate-limit', '1000000', '--log-file', join(ws.dir, 'run.log')], {
      env: { OKTA_API_TOKEN: token, REDIS_URL: redis.url, BULK_ENROLL_PREFIX: ws.prefix, OKTA_ORG_URL: ws.sim.url },
    });
    const runId = (await run.waitForOutput(/run (\d{8}-\d{6}-[a-z0-9]+) started/, 30_000))[1]!;
    const sim = ws.sim;
    await waitFor('a few users enrolled', async () => sim.stats().enrollCalls >= 10);
    await redis.kill({ keepDir: true });
    redis = await redis.restart();
    const t0 = Date.now();
    const code = await run.exited;
    expect(code, run.stderr()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const stderr = run.stderr();
    expect(stderr).toMatch(
      /Fatal: Redis lost this run's records: it restarted without persistence, was flushed, or evicted keys \(here it restarted \(run_id [0-9a-f]{8}… → [0-9a-f]{8}…\) and came back without them\)\. Run \d{8}-\d{6}-[a-z0-9]+ cannot be finished or reported from Redis; (\d+) users may have been enrolled at Okta \(\1 rows had been handed to the workers, \d+ already activated\) — re-run the file: the runner adopts existing factors\./,
    );
    const mayHave = Number(/; (\d+) users may have been enrolled/.exec(stderr)?.[1]);
    expect(mayHave).toBeGreaterThanOrEqual(10);
    expect(ws.sim.stats().enrollCalls).toBeLessThanOrEqual(mayHave);
    expect(stderr).toContain('No report was written');
    expect(stderr).not.toMatch(/Partial report|bulk-enroll resume/);
    expect(existsSync(report)).toBe(false);
    expect(run.stdout()).not.toMatch(/Report: |rows still pending/);
  });

  it('worker: the runs\' keys deleted under it (a flush) stop it with the same error, naming the deletion', async () => {
    const redis = await servers.start();
    const scenario = buildScenario(ws.dir, { users: 60, seed: 4, scanMs: [4000, 8000] });
    const token = 'flush-token-0123456789abcdef';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 20_000, latencyMs: [20, 40], rateLimit: 1_000_000, token });
    const flags = { redis: redis.url, prefix: ws.prefix, logFile: join(ws.dir, 'w.log'), logLevel: 'warn' };
    const runId = await enqueueCommand(scenario.inputCsv, flags, { env: {}, out: quiet });
    const worker = workerCommand({ ...flags, orgUrl: ws.sim.url, rateLimit: '1000000', usersRateLimit: '1000000' }, { env: { OKTA_API_TOKEN: token } });
    const settled = worker.catch((e: unknown) => e);
    const sim = ws.sim;
    await waitFor('a few users enrolled', async () => sim.stats().enrollCalls >= 5);
    const c = createRedis(redis.url);
    const keys = await c.keys(`${ws.prefix}:be:*`);
    await c.unlink(...keys);
    c.disconnect();
    const err = await settled;
    expect(err).toBeInstanceOf(RedisRecordsLostError);
    expect((err as RedisRecordsLostError).runIds).toEqual([runId]);
    expect((err as Error).message).toMatch(/\(here its keys were deleted \(FLUSHALL \/ FLUSHDB, or a cleanup of the prefix\)\)/);
  });
});
