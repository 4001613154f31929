/**
 * Redis behind Sentinel: one master redis-server with a password and one
 * `redis-server --sentinel` with its own password, both started by the test on
 * loopback. A whole `run` (the CLI, against the simulator) finds the master through
 * --redis-sentinels / --redis-master, with the passwords from the environment, and
 * no password shows up in what it prints; a wrong master name gets a clear answer.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue/connection.js';
import { startSimulator } from '../../src/simulator/index.js';
import { runCli } from '../helpers/cli.js';
import { buildScenario } from '../helpers/scenario.js';
import { readReportFile } from '../helpers/report.js';
import { useRedisServers } from '../helpers/redis-server.js';
import { useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('redis-sentinel');
const servers = useRedisServers();
const MASTER_PW = 'master-pw-7c1e9a';
const SENTINEL_PW = 'sentinel-pw-52b0d4';

describe('Redis behind Sentinel', () => {
  it('a whole run finds the master through the Sentinel; a wrong master name is named', async () => {
    const master = await servers.start({ password: MASTER_PW });
    const sentinel = await servers.sentinel(master, 'bulk-master', { masterPassword: MASTER_PW, password: SENTINEL_PW });
    const scenario = buildScenario(ws.dir, { users: 16, scanMs: [50, 200] });
    const token = 'sentinel-token-0123456789abcdef';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, rateLimit: 100_000, token });
    const report = join(ws.dir, 'report.csv');
    const env = {
      OKTA_API_TOKEN: token,
      OKTA_ORG_URL: ws.sim.url,
      BULK_ENROLL_PREFIX: ws.prefix,
      // The master's password (and database) come from the URL; its host is what the Sentinel says.
      REDIS_URL: `redis://:${MASTER_PW}@sentinel-managed:6379/0`,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PW,
    };
    const sentinels = `127.0.0.1:${sentinel.port}`;
    const run = await runCli(
      ['run', scenario.inputCsv, '--report', report, '--redis-sentinels', sentinels, '--redis-master', 'bulk-master', '--rate-limit', '100000', '--users-rate-limit', '100000', '--poll-initial-ms', '100', '--log-file', join(ws.dir, 'run.log')],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readReportFile(report).map((r) => r.outcome)).toEqual(scenario.expected.map((e) => e.outcome));
    // JSON log lines on stderr (no terminal) escape the quotes.
    expect(run.stderr.replace(/\\"/g, '"')).toContain(`Redis at Sentinel master "bulk-master" (sentinels ${sentinels}) shows no persistence`);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(new RegExp(`${MASTER_PW}|${SENTINEL_PW}`));
    const direct = createRedis(master.url);
    expect(await direct.exists(`${ws.prefix}:be:runs`)).toBe(1);
    direct.disconnect();

    const wrong = await runCli(['status', '--redis-sentinels', sentinels, '--redis-master', 'no-such-master'], { env });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`^Fatal: Redis is not reachable at Sentinel master "no-such-master" \\(sentinels ${sentinels}\\)`));
    expect(wrong.stderr).toContain('monitor a master named "no-such-master"');
    expect(wrong.stderr).not.toMatch(new RegExp(`${MASTER_PW}|${SENTINEL_PW}`));
  });
});
