/**
 * Dry run against the real simulator and Redis (test/helpers/redis.ts): it changes
 * nothing in Okta (the simulator saw GET requests only, no factor changed) and plans
 * exactly what the real run then does, row by row: enroll, adopt pending, leave active,
 * restart expired, fail with the code the report shows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { createOktaClient } from '../../src/okta/client.js';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { PLAN_COLUMNS } from '../../src/runs/plan.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { collector } from './helpers.js';

const TOKEN = 'dry-run-token-0123456789';
const TTL = 2000;

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-dry-'));
  prefix = uniquePrefix('dry');
});
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

const id = (kind: string, n: number) => `00u${kind}${String(n).padStart(16, '0')}`;

it('changes nothing in Okta and plans exactly what the real run then does', async () => {
  // A: active already (an earlier run), B: expired earlier, C: pending now, D: new.
  const dirLines = ['id,login,activation'];
  for (let i = 0; i < 4; i++) {
    dirLines.push(`${id('a', i)},a${i}@example.com,150`);
    dirLines.push(`${id('b', i)},b${i}@example.com,never`);
    dirLines.push(`${id('c', i)},c${i}@example.com,never`);
    dirLines.push(`${id('d', i)},d${i}@example.com,${i % 2 ? 'never' : 150}`);
  }
  writeFileSync(join(dir, 'directory.csv'), `${dirLines.join('\n')}\n`);
  sim = await startSimulator({ usersCsv: join(dir, 'directory.csv'), activationTtlMs: TTL, rateLimit: 100_000, token: TOKEN });
  const flags = (extra: Record<string, unknown>) => ({
    orgUrl: sim!.url,
    redis: redisUrl(),
    prefix,
    rateLimit: '100000',
    usersRateLimit: '100000',
    pollInitialMs: '100',
    logFile: join(dir, 'run.log'),
    logLevel: 'warn',
    // Polling, not the System Log: an adopted pending factor listed without expiresAt would
    // otherwise be confirmed only after the default 11-minute activation timeout.
    detect: 'poll',
    ...extra,
  });
  const io = (out = collector()) => ({ env: { OKTA_API_TOKEN: TOKEN }, out: out.stream });

  // The past: A activated and B expired in an earlier run; C enrolled by someone else just now.
  const earlier = join(dir, 'earlier.csv');
  writeFileSync(earlier, `userId\n${[0, 1, 2, 3].flatMap((i) => [id('a', i), id('b', i)]).join('\n')}\n`);
  await runCommand(earlier, flags({ report: join(dir, 'earlier-report.csv') }), io());
  const client = createOktaClient({ orgUrl: sim.url, auth: sswsAuth(TOKEN) });
  for (let i = 0; i < 4; i++) await client.enrollFactor(id('c', i), { factorType: 'push', provider: 'OKTA' });
  await client.close();

  const input = join(dir, 'input.csv');
  writeFileSync(
    input,
    [
      'userId,login,factorType,provider,deviceName',
      ...[0, 1, 2, 3].flatMap((i) => [`${id('a', i)},,push,OKTA,`, `${id('b', i)},,push,OKTA,`, `,c${i}@example.com,push,OKTA,`, `${id('d', i)},,push,OKTA,`]),
      `${id('z', 1)},,push,OKTA,unknown by id`,
      ',nobody@example.com,push,OKTA,unknown by login',
      ',,push,OKTA,no user at all',
      `${id('d', 0)},,push,OKTA,duplicate by id`,
      ',d1@example.com,push,OKTA,duplicate by login of a row given by id',
      `${id('a', 0)},,fido,OKTA,invalid factor type`,
      '',
    ].join('\n'),
  );

  const factorsBefore = JSON.stringify(sim.factors());
  sim.resetStats();
  const report = join(dir, 'report.csv');
  const out = collector();
  await runCommand(input, flags({ report, dryRun: true }), io(out));

  // Nothing changed in Okta: reads only, no factor created, activated or deleted.
  const stats = sim.stats();
  expect(Object.keys(stats.requests.byRoute).filter((k) => !k.startsWith('GET '))).toEqual([]);
  expect(stats.requests.total).toBeGreaterThan(0);
  expect(stats.enrollCalls).toBe(0);
  expect(stats.activateCalls).toBe(0);
  expect(JSON.stringify(sim.factors())).toBe(factorsBefore);
  expect(stats.rateLimited).toBe(0);

  const planFile = `${report}.plan.csv`;
  expect(out.text()).toContain(`Plan: ${planFile}`);
  const planText = readFileSync(planFile, 'utf8');
  expect(planText.split('\n')[0]).toBe(PLAN_COLUMNS.join(','));
  const plan = parse(planText, { columns: true }) as Array<Record<string, string>>;
  const actions = plan.map((p) => [p.row, p.action, p.action === 'fail' ? (p.reason ?? '').split(':')[0] : '']);
  const expected: string[][] = [];
  [0, 1, 2, 3].forEach((i) => {
    const base = i * 4;
    expected.push([String(base + 1), 'leave active', ''], [String(base + 2), 'restart expired', ''], [String(base + 3), 'adopt pending', ''], [String(base + 4), 'enroll', '']);
  });
  expected.push(['17', 'fail', 'E0000007'], ['18', 'fail', 'E0000007'], ['19', 'fail', 'INVALID_INPUT'], ['20', 'fail', 'DUPLICATE_ROW'], ['21', 'fail', 'DUPLICATE_ROW'], ['22', 'fail', 'INVALID_INPUT']);
  expect(actions).toEqual(expected);
  expect(plan.find((p) => p.row === '3')).toMatchObject({ userId: id('c', 0), login: 'c0@example.com', existingStatus: 'PENDING_ACTIVATION' });
  expect(plan.find((p) => p.row === '1')!.existingFactorId).not.toBe('');

  // The real run does what the plan said, row by row.
  await runCommand(input, flags({ report }), io());
  const rows = readReportFile(report);
  expect(rows).toHaveLength(plan.length);
  const did = (r: Record<string, string>): string => {
    if (r.outcome === 'failed') return `fail ${r.errorCode}`;
    if ((r.note ?? '').includes('expired activation restarted')) return 'restart expired';
    if ((r.note ?? '').includes('already active')) return 'leave active';
    if ((r.note ?? '').includes('already enrolled before this run')) return 'adopt pending';
    return 'enroll';
  };
  const planned = (p: Record<string, string>) => (p.action === 'fail' ? `fail ${(p.reason ?? '').split(':')[0]}` : p.action);
  expect(rows.map((r) => `${r.row} ${did(r)}`)).toEqual(plan.map((p) => `${p.row} ${planned(p)}`));
  // and the existing factors it planned to take over are the ones it took over
  for (const p of plan.filter((x) => x.existingFactorId)) expect(rows.find((r) => r.row === p.row)!.factorId).toBe(p.existingFactorId);
});
