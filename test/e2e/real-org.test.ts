/**
 * What real orgs answer, end to end: the runner in this process (runCommand), a real
 * Redis, the simulator in the shape each test needs (src/simulator: listing and restart
 * shapes, System Log events for other factors, protected users, user statuses, policies,
 * read-only mode). Each test pins the outcome a row must get against a real org.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { reenrollCommand } from '../../src/commands/reenroll.js';
import { FatalRunError } from '../../src/errors.js';
import { redisUrl } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { useWorkspace, quiet } from '../helpers/workspace.js';

const ws = useWorkspace('org');
const TOKEN = 'org-token-0123456789abcdef';

interface Person {
  activation?: string;
  status?: string;
  traits?: string;
}

/** A directory and an input CSV naming each user by id; returns the user ids. */
function people(list: Person[]): string[] {
  const ids = list.map((_, i) => `00uorg${String(i).padStart(14, '0')}`);
  const dir = ['id,login,activation,status,traits'];
  list.forEach((p, i) => dir.push(`${ids[i]},u${i}@example.com,${p.activation ?? 'never'},${p.status ?? ''},"${p.traits ?? ''}"`));
  writeFileSync(join(ws.dir, 'dir.csv'), `${dir.join('\n')}\n`);
  writeFileSync(join(ws.dir, 'in.csv'), `userId,factorType\n${ids.map((id) => `${id},push`).join('\n')}\n`);
  return ids;
}

async function sim(over: Partial<SimulatorOptions> = {}) {
  ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 3000, rateLimit: 100_000, logsRateLimit: 100_000, token: TOKEN, ...over });
  return ws.sim;
}

const FAST = { rateLimit: '100000', usersRateLimit: '100000', logsRateLimit: '6000', logIntervalMs: '150', reconcileIntervalMs: '1000' };

async function run(extra: Record<string, unknown> = {}, name = 'report') {
  const report = join(ws.dir, `${name}.csv`);
  await runCommand(join(ws.dir, 'in.csv'), { report, orgUrl: ws.sim!.url, redis: redisUrl(), prefix: ws.prefix, ...FAST, ...extra }, { env: { OKTA_API_TOKEN: TOKEN }, out: quiet });
  return { report, rows: readReportFile(report) };
}

describe('activation detection against a real System Log', () => {
  for (const shape of ['named', 'unnamed'] as const) {
    it(`other factors a user activates while the push waits never make it activated (${shape === 'named' ? 'events name the factor' : 'events name no factor'})`, async () => {
      people([
        { activation: 'never', traits: 'other-factor:email:300' },
        { activation: 'never', traits: 'other-factor:signed_nonce:300' },
        { activation: 'never', traits: 'other-factor:sms:200' },
        { activation: '400', traits: 'fastpass' },
        { activation: '500' },
        { activation: 'never' },
      ]);
      await sim(shape === 'named' ? {} : { logDebugData: false, logTargets: 'user' });
      const { rows } = await run({ deliver: 'none' });
      expect(rows.map((r) => r.outcome)).toEqual(['expired', 'expired', 'expired', 'activated', 'activated', 'expired']);
      expect(rows.filter((r) => r.outcome === 'activated').map((r) => r.status)).toEqual(['ACTIVE', 'ACTIVE']);
    }, 60_000);
  }

  it('an activation published before its row was watched still settles the row before its window ends', async () => {
    people(Array.from({ length: 40 }, () => ({ activation: '30' })));
    await sim({ activationTtlMs: 8000 });
    const { rows } = await run({ deliver: 'none', concurrency: '40' });
    expect(rows.every((r) => r.outcome === 'activated')).toBe(true);
    for (const r of rows) expect(Date.parse(r.finishedAt!) - Date.parse(r.enrolledAt!)).toBeLessThan(8000);
    expect(rows.filter((r) => r.note?.includes('System Log')).length).toBeGreaterThan(30);
  }, 60_000);
});

describe('errors that belong to one user', () => {
  it('three protected admins in a department of 40 fail their own rows; the other 37 finish', async () => {
    const list: Person[] = Array.from({ length: 40 }, (_, i) => (i === 3 || i === 17 || i === 31 ? { traits: 'protected' } : { activation: '300' }));
    list[9] = { status: 'SUSPENDED' };
    people(list);
    await sim();
    const { rows } = await run({ deliver: 'none' });
    const failed = rows.filter((r) => r.outcome === 'failed');
    expect(failed.map((r) => [r.row, r.errorCode])).toEqual([
      ['4', 'E0000006'],
      ['10', 'E0000038'],
      ['18', 'E0000006'],
      ['32', 'E0000006'],
    ]);
    expect(failed[0]!.errorSummary).toContain('protected admin');
    expect(failed[1]!.errorSummary).toContain('SUSPENDED');
    expect(rows.filter((r) => r.outcome === 'activated')).toHaveLength(36);
  }, 60_000);

  it('credentials refused for every user stop the run early, with one message naming the missing role', async () => {
    people(Array.from({ length: 40 }, () => ({ traits: 'protected' })));
    const s = await sim();
    const err = await run({ deliver: 'none', concurrency: '4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toMatch(/lacks a role allowed to manage users' factors/);
    // The run stopped after about ten users, not forty.
    expect(s.stats().requests.byRoute['POST /api/v1/users/{userId}/factors'] ?? 0).toBeLessThan(20);
  }, 60_000);

  it('a policy that refuses push stops the run after a few rows', async () => {
    people(Array.from({ length: 40 }, () => ({ activation: '200' })));
    const s = await sim({ refuseFactorTypes: ['push'] });
    const err = await run({ deliver: 'none', concurrency: '4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toMatch(/policy/);
    const { rows } = { rows: readReportFile(join(ws.dir, 'report.csv')) };
    const failed = rows.filter((r) => r.outcome === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(10);
    expect(failed.every((r) => r.errorCode === 'E0000001')).toBe(true);
    expect(rows.filter((r) => r.outcome === 'pending').length).toBeGreaterThan(10);
    expect(s.stats().factors.total).toBe(0);
  }, 60_000);

  it('users still being activated are retried until Okta takes them, without an attempt charged; cancelled and errored activations get their codes', async () => {
    people([{ activation: '300', traits: 'provisioning:1500' }, { activation: 'cancel:200' }, { activation: 'error:200' }, { activation: '300' }]);
    await sim();
    const { rows } = await run({ deliver: 'none', detect: 'poll', pollInitialMs: '100', provisioningWaitMs: '20000' });
    expect(rows.map((r) => [r.outcome, r.errorCode || '', r.attempts])).toEqual([
      ['activated', '', '1'],
      ['failed', 'ACTIVATION_CANCELLED', '1'],
      ['failed', 'ACTIVATION_ERROR', '1'],
      ['activated', '', '1'],
    ]);
  }, 60_000);
});

describe('shapes of answers', () => {
  it('Okta read-only mode: rows wait and finish once it ends, nothing charged', async () => {
    people(Array.from({ length: 12 }, () => ({ activation: '300' })));
    const s = await sim({ readOnly: true });
    setTimeout(() => s.setReadOnly(false), 1500);
    const { rows } = await run({ deliver: 'none', readOnlyPauseMs: '500' });
    expect(rows.every((r) => r.outcome === 'activated' && r.attempts === '1')).toBe(true);
  }, 90_000);

  it('a poll link that is the activate link ends every row, never looping on it', async () => {
    people([{ activation: '600' }, { activation: 'never' }, { activation: 'never' }]);
    const s = await sim({ pollLink: 'activate', restartShape: 'activation' });
    const { rows } = await run({ deliver: 'none', detect: 'poll', pollInitialMs: '100' });
    expect(rows.map((r) => r.outcome)).toEqual(['activated', 'expired', 'expired']);
    expect(rows.every((r) => r.attempts === '1')).toBe(true);
    expect(s.stats().rateLimitedBy.resource).toBe(0);
  }, 60_000);

  it('strict orgs: no device fields by default; --device-fields sends what only the older document showed', async () => {
    people([{ activation: '300' }]);
    writeFileSync(join(ws.dir, 'in.csv'), `userId,factorType,deviceType,deviceName\n00uorg00000000000000,push,SmartPhone_IPhone,Ada's phone\n`);
    await sim({ strictBodies: true });
    const plain = await run({ deliver: 'none' }, 'plain');
    expect(plain.rows[0]).toMatchObject({ outcome: 'activated' });
    const old = await run({ deliver: 'none', deviceFields: true, prefix: `${ws.prefix}-df` }, 'device');
    expect(old.rows[0]).toMatchObject({ outcome: 'failed', errorCode: 'E0000003' });
  }, 60_000);

  it('a re-enrollment against listings that show expired pushes as PENDING_ACTIVATION restarts them, sends each, and users who scan the email end activated', async () => {
    people([{ activation: 'never;after-delivery:300' }, { activation: 'never;after-delivery:300' }, { activation: 'never;never' }]);
    const s = await sim({ listShape: 'pending-next', restartShape: 'activation' });
    const first = await run({ deliver: 'none' }, 'night0');
    expect(first.rows.map((r) => r.outcome)).toEqual(['expired', 'expired', 'expired']);
    const deliveriesBefore = s.stats().deliveries;
    const report = join(ws.dir, 'night1.csv');
    await reenrollCommand(
      { from: first.report, report, orgUrl: s.url, redis: redisUrl(), prefix: ws.prefix, ...FAST, deliver: 'email' },
      { env: { OKTA_API_TOKEN: TOKEN }, out: quiet },
    );
    const night = readReportFile(report);
    expect(night.map((r) => [r.outcome, r.delivery, r.attempts])).toEqual([
      ['activated', 'sent', '1'],
      ['activated', 'sent', '1'],
      ['expired', 'sent', '1'],
    ]);
    expect(s.stats().deliveries - deliveriesBefore).toBe(3);
  }, 90_000);
});
