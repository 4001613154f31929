/**
 * Activation detection from the System Log, against the real simulator (which emits
 * user.mfa.factor.activate events when a simulated user scans) and a real Redis:
 * outcomes stay exact, API calls per user drop well below polling's, and credentials
 * that may not read the log fall back to polling with one warning.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { cleanPrefix, redisUrl } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { useWorkspace, quiet } from '../helpers/workspace.js';

const ws = useWorkspace('log');

/** 150 users by id: 70% scan within the first half of a 3 s window, 30% never. */
function mix() {
  const lines = ['id,login,activation'];
  const input = ['userId,factorType'];
  const expected: string[] = [];
  for (let i = 0; i < 150; i++) {
    const id = `00ulogdetect${String(i).padStart(8, '0')}`;
    const scans = i % 10 < 7;
    lines.push(`${id},l${i}@example.com,${scans ? 200 + ((i * 37) % 1200) : 'never'}`);
    input.push(`${id},push`);
    expected.push(scans ? 'activated' : 'expired');
  }
  writeFileSync(join(ws.dir, 'dir.csv'), `${lines.join('\n')}\n`);
  writeFileSync(join(ws.dir, 'in.csv'), `${input.join('\n')}\n`);
  return expected;
}

async function runWith(detect: 'log' | 'poll', extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = { OKTA_API_TOKEN: 'log-token-123456' }) {
  const report = join(ws.dir, `report-${detect}.csv`);
  await runCommand(
    join(ws.dir, 'in.csv'),
    {
      report,
      orgUrl: ws.sim!.url,
      redis: redisUrl(),
      prefix: `${ws.prefix}-${detect}`,
      rateLimit: '100000',
      usersRateLimit: '100000',
      logsRateLimit: '6000',
      logIntervalMs: '200',
      deliver: 'none',
      detect,
      logFile: join(ws.dir, 'run.log'),
      ...extra,
    },
    { env, out: quiet },
  );
  await cleanPrefix(redisUrl(), `${ws.prefix}-${detect}`);
  return readReportFile(report);
}

describe('System Log detection', () => {
  it('exact outcomes with far fewer calls per user than polling', async () => {
    const expected = mix();
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 3000, rateLimit: 100_000, logsRateLimit: 100_000, token: 'log-token-123456' });
    const withLog = await runWith('log');
    expect(withLog.map((r) => r.outcome)).toEqual(expected);
    const logCalls = ws.sim.stats().requests.total;
    expect(withLog.filter((r) => (r.note ?? '').includes('System Log')).length).toBeGreaterThan(80);
    ws.sim.resetStats();
    // a fresh directory state for the polling run: a new simulator
    await ws.sim.close();
    ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 3000, rateLimit: 100_000, token: 'log-token-123456' });
    const withPolls = await runWith('poll', { pollInitialMs: '100' });
    expect(withPolls.map((r) => r.outcome)).toEqual(expected);
    const pollCalls = ws.sim.stats().requests.total;
    expect(logCalls / 150).toBeLessThanOrEqual(1.6);
    expect(pollCalls).toBeGreaterThan(logCalls * 1.5);
  }, 60_000);

  it('falls back to polling, saying so once, when the credentials may not read the log', async () => {
    const expected = mix();
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = join(ws.dir, 'app.pem');
    writeFileSync(keyFile, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
    ws.sim = await startSimulator({
      usersCsv: join(ws.dir, 'dir.csv'),
      activationTtlMs: 3000,
      rateLimit: 100_000,
      oauthClientId: '0oaNoLogsScope000001',
      oauthPublicKey: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      oauthScopes: ['okta.users.manage', 'okta.users.read'],
    });
    const rows = await runWith(
      'log',
      { auth: 'oauth', clientId: '0oaNoLogsScope000001', privateKey: keyFile, scopes: 'okta.users.manage okta.users.read', pollInitialMs: '100', logLevel: 'warn' },
      {},
    );
    expect(rows.map((r) => r.outcome)).toEqual(expected);
    const log = readFileSync(join(ws.dir, 'run.log'), 'utf8');
    expect(log.match(/System Log is not readable/g)).toHaveLength(1);
  }, 60_000);
});
