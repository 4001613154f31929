/**
 * `reenroll` end to end against the real simulator (HTTP) and a real Redis
 * (test/helpers/redis.ts): users who never scanned are expired after a first `run`;
 * `reenroll --from report.csv` restarts exactly those activations, users who scan the
 * second QR code end activated, the others expired again; an active factor is left
 * alone, a missing one is enrolled; `--max-attempts` holds across nights.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { reenrollCommand } from '../../src/commands/reenroll.js';
import { readReport, REPORT_COLUMNS, writeReport, type ReportRow } from '../../src/csv/report.js';
import { ConfigError, InputFileError } from '../../src/errors.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { byUser, commonFlags, firstRun, ledgerCount, sink, TOKEN, userId, writeDirectory, writeInput, type DirUser } from './helpers.js';
import { parse } from 'csv-parse/sync';

let dir: string;
let sim: SimulatorHandle | undefined;
let prefix: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-reenroll-'));
  prefix = uniquePrefix('reenroll');
});
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

async function readAll(file: string): Promise<ReportRow[]> {
  const rows: ReportRow[] = [];
  for await (const r of readReport(file)) rows.push(r);
  return rows;
}

describe.each(['okta', 'seed'] as const)('reenroll --from a report (%s dialect)', (dialect) => {
  it('restarts exactly the expired activations; second scans activate, the rest expire again', async () => {
    const users: DirUser[] = [];
    const scansFirst = [0, 1, 2].map((i) => ({ id: userId(100 + i), login: `first${i}@example.com`, activation: '300' }));
    const scansSecond = [0, 1, 2].map((i) => ({ id: userId(200 + i), login: `second${i}@example.com`, activation: 'never;500' }));
    const never = [0, 1].map((i) => ({ id: userId(300 + i), login: `never${i}@example.com`, activation: 'never' }));
    const notEnrolled = { id: userId(400), login: 'late@example.com', activation: '300' };
    users.push(...scansFirst, ...scansSecond, ...never, notEnrolled);
    sim = await startSimulator({ dialect, usersCsv: writeDirectory(dir, users), activationTtlMs: 1500, rateLimit: 100_000, token: TOKEN });
    const flags = commonFlags(sim.url, prefix, dir);

    // Night 0: a plain run; one user is given by login, one row names nobody.
    const lines = [...scansFirst, ...scansSecond, ...never].map((u, i) => (i === 3 ? `,${u.login},push,OKTA` : `${u.id},,push,OKTA`));
    lines.splice(4, 0, '00unknownuser0000001,,push,OKTA');
    const first = await firstRun(writeInput(dir, lines), join(dir, 'night0.csv'), flags);
    expect(first.map((r) => r.outcome)).toEqual(['activated', 'activated', 'activated', 'expired', 'failed', 'expired', 'expired', 'expired', 'expired']);
    expect(sim.activateCalls()).toEqual([]);
    const expiredRows = first.filter((r) => r.outcome === 'expired');

    // The operator's report also says one activated user is expired (stale) and names a user never enrolled.
    const from = join(dir, 'from.csv');
    const forged = (await readAll(join(dir, 'night0.csv'))).map((r) => (r.userId === scansFirst[0]!.id ? { ...r, outcome: 'expired' } : r));
    forged.push({ ...forged[0]!, row: '42', userId: notEnrolled.id, login: '', outcome: 'expired', factorId: '', status: '', note: '' });
    await writeReport(from, forged);
    const enrollsBefore = sim.stats().enrollCalls;

    // The preview first: a dry run plans exactly what follows and changes nothing in Okta.
    const dry = await reenrollCommand({ ...flags, from, report: join(dir, 'dry.csv'), includeFailed: true, dryRun: true }, { env: { OKTA_API_TOKEN: TOKEN }, out: sink().out });
    expect(sim.stats().enrollCalls).toBe(enrollsBefore);
    expect(sim.activateCalls()).toEqual([]);
    const plan = parse(readFileSync(dry.plan.file), { columns: true }) as Array<Record<string, string>>;
    const actionOf = (uid: string) => plan.find((p) => p.userId === uid)?.action;
    expect(actionOf(scansFirst[0]!.id)).toBe('leave active');
    expect(actionOf(notEnrolled.id)).toBe('enroll');
    for (const r of expiredRows) expect(plan.find((p) => p.row === r.row)?.action).toBe('restart expired');

    const out = sink();
    const report = join(dir, 'night1.csv');
    const result = await reenrollCommand({ ...flags, from, report, includeFailed: true }, { env: { OKTA_API_TOKEN: TOKEN }, out: out.out });
    expect(result.selected).toBe(expiredRows.length + 2);
    expect(out.text()).toContain(`Revisiting ${expiredRows.length + 2} of ${forged.length} rows of ${from} (left out: activated 2, failed E0000007 1)`);

    // Exactly the expired factors were restarted, each once.
    const restarted = sim.activateCalls().filter((c) => c.result === 'restarted');
    expect(restarted.map((c) => c.factorId).sort()).toEqual(expiredRows.map((r) => r.factorId).sort());
    expect(sim.activateCalls()).toHaveLength(expiredRows.length);
    // One enrollment only: the user who had no factor.
    expect(sim.stats().enrollCalls - enrollsBefore).toBe(1);
    expect(sim.stats().duplicateEnrollments).toBe(0);

    const rows = readReportFile(report);
    expect(Object.keys(rows[0]!)).toEqual([...REPORT_COLUMNS]);
    // Row numbers are the previous report's.
    expect(rows.map((r) => r.row)).toEqual(['1', '4', '6', '7', '8', '9', '42']);
    const got = byUser(rows);
    for (const u of scansSecond) {
      expect(got.get(u.id)).toMatchObject({ outcome: 'activated', note: expect.stringContaining('expired activation restarted') });
    }
    for (const u of never) expect(got.get(u.id)).toMatchObject({ outcome: 'expired', errorCode: '' });
    expect(got.get(scansFirst[0]!.id)).toMatchObject({ outcome: 'activated', note: 'already active' });
    expect(got.get(notEnrolled.id)).toMatchObject({ outcome: 'activated', note: expect.stringContaining('no factor of this type') });
    // the login row kept its login and got its user id
    expect(got.get(scansSecond[0]!.id)?.login).toBe(scansSecond[0]!.login);

    // Attempts counted across both runs, per user.
    expect(await ledgerCount(prefix, scansSecond[0]!.id)).toBe(2);
    expect(await ledgerCount(prefix, never[0]!.id)).toBe(2);
    expect(await ledgerCount(prefix, scansFirst[0]!.id)).toBe(1);
    expect(await ledgerCount(prefix, notEnrolled.id)).toBe(1);

    // The manifest says what ran and from what.
    const manifest = JSON.parse(readFileSync(`${report}.manifest.json`, 'utf8'));
    expect(manifest).toMatchObject({ command: 'reenroll', runId: result.runId, counts: { total: 7, activated: 5, expired: 2, failed: 0 } });
    expect(manifest.input).toMatchObject({ name: 'from.csv', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(manifest.options).toMatchObject({ from, includeFailed: true });
  });
});

describe('reenroll --max-attempts across nights', () => {
  it('ends users at the cap MAX_ATTEMPTS without any request about them', async () => {
    const never = [0, 1, 2].map((i) => ({ id: userId(500 + i), login: `n${i}@example.com`, activation: 'never' }));
    const third = { id: userId(600), login: 'third@example.com', activation: 'never;never;400' };
    sim = await startSimulator({ usersCsv: writeDirectory(dir, [...never, third]), activationTtlMs: 1200, rateLimit: 100_000, token: TOKEN });
    const flags = commonFlags(sim.url, prefix, dir);
    const env = { env: { OKTA_API_TOKEN: TOKEN }, out: sink().out };
    const ids = [...never, third].map((u) => u.id);

    const night0 = await firstRun(writeInput(dir, ids.map((id) => `${id},,push,OKTA`)), join(dir, 'n0.csv'), flags);
    expect(night0.map((r) => r.outcome)).toEqual(['expired', 'expired', 'expired', 'expired']);

    // Night 1 (cap 3): restarted, still expired; the ledger says 2.
    await reenrollCommand({ ...flags, from: join(dir, 'n0.csv'), report: join(dir, 'n1.csv'), maxAttempts: '3' }, env);
    expect(readReportFile(join(dir, 'n1.csv')).map((r) => r.outcome)).toEqual(['expired', 'expired', 'expired', 'expired']);
    for (const id of ids) expect(await ledgerCount(prefix, id)).toBe(2);

    // Night 2: the third attempt; the user whose third entry scans is activated.
    await reenrollCommand({ ...flags, from: join(dir, 'n1.csv'), report: join(dir, 'n2.csv'), maxAttempts: '3' }, env);
    const n2 = byUser(readReportFile(join(dir, 'n2.csv')));
    expect(n2.get(third.id)?.outcome).toBe('activated');
    for (const u of never) expect(n2.get(u.id)?.outcome).toBe('expired');
    for (const id of ids) expect(await ledgerCount(prefix, id)).toBe(3);

    // Its preview already says so.
    const dry3 = await reenrollCommand({ ...flags, from: join(dir, 'n2.csv'), report: join(dir, 'dry3.csv'), maxAttempts: '3', dryRun: true }, env);
    const plan3 = parse(readFileSync(dry3.plan.file), { columns: true }) as Array<Record<string, string>>;
    for (const u of never) expect(plan3.find((p) => p.userId === u.id)?.reason).toMatch(/^MAX_ATTEMPTS: /);

    // Night 3: everyone left is at the cap. Nothing about them reaches Okta.
    sim.resetStats();
    const activations = sim.activateCalls().length;
    await reenrollCommand({ ...flags, from: join(dir, 'n2.csv'), report: join(dir, 'n3.csv'), maxAttempts: '3' }, env);
    const n3 = readReportFile(join(dir, 'n3.csv'));
    expect(n3.map((r) => [r.userId, r.outcome, r.errorCode])).toEqual(never.map((u) => [u.id, 'failed', 'MAX_ATTEMPTS']));
    expect(n3[0]!.errorSummary).toBe('3 activation attempts made for this user and factor type (--max-attempts 3): no new activation started');
    expect(sim.requests().filter((r) => ids.some((id) => r.path.includes(id)))).toEqual([]);
    expect(sim.activateCalls()).toHaveLength(activations);
    for (const id of ids) expect(await ledgerCount(prefix, id)).toBe(3);

    // A higher cap lets them through again; MAX_ATTEMPTS rows are not retried by --include-failed.
    const n4 = await reenrollCommand({ ...flags, from: join(dir, 'n3.csv'), report: join(dir, 'n4.csv'), includeFailed: true }, env);
    expect(n4.selected).toBe(0);
    expect(readReportFile(join(dir, 'n4.csv'))).toEqual([]);
    expect(existsSync(join(dir, 'n4.csv.manifest.json'))).toBe(true);
  });
});

describe('reenroll flags and sources', () => {
  it('lists every flag problem at once and refuses a file that is not a report before touching Redis', async () => {
    const env = { env: { OKTA_API_TOKEN: TOKEN }, out: sink().out };
    const err = await reenrollCommand({ report: join(dir, 'r.csv'), maxAttempts: '0', includePending: true, group: 'bad id', users: 'u.csv', orgUrl: 'https://example.okta.com', prefix }, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      '--from, --users, --group: expected exactly one source, got --users u.csv and --group bad id',
      '--group: expected an Okta group id (letters and digits, like 00g1ab2cd3EF4gh5ij6k), got `bad id`',
      '--include-pending: only used with --from (a previous report has outcomes to choose by)',
      '--max-attempts: expected a whole number from 1 to 1000, got `0`',
    ]);
    const notReport = writeInput(dir, ['00u1,,push,OKTA'], 'users.csv');
    const err2 = await reenrollCommand({ from: notReport, report: join(dir, 'r.csv'), orgUrl: 'https://example.okta.com', redis: 'redis://127.0.0.1:1', prefix }, env).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(InputFileError);
    expect((err2 as Error).message).toMatch(/not a bulk-enroll report: missing columns row, deviceName, outcome, /);
  });

  it('--users and --group revisit a list and a group: active left alone, missing enrolled', async () => {
    const a = { id: userId(700), login: 'a@example.com', activation: '200' };
    const b = { id: userId(701), login: 'b@example.com', activation: '200' };
    const dirFile = join(dir, 'dir.csv');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(dirFile, `id,login,activation,group\n${a.id},${a.login},200,00gfinance000000001\n${b.id},${b.login},200,00gfinance000000001\n`);
    sim = await startSimulator({ usersCsv: dirFile, activationTtlMs: 1500, rateLimit: 100_000, token: TOKEN });
    const flags = commonFlags(sim.url, prefix, dir);
    const env = { env: { OKTA_API_TOKEN: TOKEN }, out: sink().out };
    await firstRun(writeInput(dir, [`${a.id},,push,OKTA`]), join(dir, 'r0.csv'), flags);

    const list = join(dir, 'list.csv');
    writeFileSync(list, `login,department\n${a.login},Finance\n${b.login},Finance\n`);
    await reenrollCommand({ ...flags, users: list, report: join(dir, 'r1.csv') }, env);
    const r1 = readReportFile(join(dir, 'r1.csv'));
    expect(r1.map((r) => [r.row, r.login, r.outcome, r.note])).toEqual([
      ['1', a.login, 'activated', 'already active'],
      ['2', b.login, 'activated', expect.stringContaining('no factor of this type: enrolled')],
    ]);

    await reenrollCommand({ ...flags, group: '00gfinance000000001', report: join(dir, 'r2.csv') }, env);
    const r2 = readReportFile(join(dir, 'r2.csv'));
    expect(r2.map((r) => [r.userId, r.outcome, r.note])).toEqual([
      [a.id, 'activated', 'already active'],
      [b.id, 'activated', 'already active'],
    ]);
    expect(sim.stats().enrollCalls).toBe(2);
    expect(sim.activateCalls()).toEqual([]);
  });
});

describe('reenroll and the per-factor activation limit', () => {
  it('a 429 on the restart parks the row and redoes the restart later, counted once', async () => {
    const u = { id: userId(800), login: 'limited@example.com', activation: 'never;never;300' };
    sim = await startSimulator({ usersCsv: writeDirectory(dir, [u]), activationTtlMs: 800, activationAttemptLimit: 1, activationAttemptWindowMs: 4000, rateWindowMs: 2000, rateLimit: 100_000, token: TOKEN });
    const flags = commonFlags(sim.url, prefix, dir);
    const night0 = await firstRun(writeInput(dir, [`${u.id},,push,OKTA`]), join(dir, 'n0.csv'), flags);
    expect(night0[0]).toMatchObject({ outcome: 'expired' });

    // Someone restarts the activation by hand: the factor's one activation per window is used up.
    const fid = night0[0]!.factorId!;
    const res = await fetch(`${sim.url}/api/v1/users/${u.id}/factors/${fid}/lifecycle/activate`, { method: 'POST', headers: { Authorization: `SSWS ${TOKEN}`, Accept: 'application/json' } });
    expect(res.status).toBe(200);
    await until('the second activation to expire', () => sim!.factors().some((f) => f.factorId === fid && f.status === 'EXPIRED'));

    await reenrollCommand({ ...flags, from: join(dir, 'n0.csv'), report: join(dir, 'n1.csv') }, { env: { OKTA_API_TOKEN: TOKEN }, out: sink().out });
    // The hand-made restart, then ours refused (as often as the factor's window still said no), then ours done.
    const results = sim.activateCalls().map((c) => c.result);
    expect(results[0]).toBe('restarted');
    expect(results.at(-1)).toBe('restarted');
    expect(results.slice(1, -1).length).toBeGreaterThan(0);
    expect(new Set(results.slice(1, -1))).toEqual(new Set(['rate-limited']));
    expect(readReportFile(join(dir, 'n1.csv'))[0]).toMatchObject({ outcome: 'activated', note: expect.stringContaining('expired activation restarted') });
    // The run's enrollment and one restart: the hand-made restart is not ours, the 429 is not a second one.
    expect(await ledgerCount(prefix, u.id)).toBe(2);
  });
});

async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
