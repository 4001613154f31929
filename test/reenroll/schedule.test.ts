/**
 * `schedule` and the nightly job, on a real Redis (test/helpers/redis.ts) and the real
 * simulator: registering (idempotent by name), listing and removing a BullMQ job
 * scheduler; a short cadence running re-enrollment nights inside a worker (in-process
 * runtime), each from the previous night's outcomes, overlapping ticks skipped; the run
 * lock refusing another job and letting the same job id take over.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scheduleCommand, type ScheduleListing } from '../../src/commands/schedule.js';
import { writeReport, type ReportRow } from '../../src/csv/report.js';
import { ConfigError, ExitError } from '../../src/errors.js';
import { loadProcessConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startRuntime, type Runtime } from '../../src/queue/runtime.js';
import { tasks } from '../../jobs/index.js';
import { QUEUES } from '../../src/runs/keys.js';
import { RunStore } from '../../src/runs/store.js';
import { ScheduleStore } from '../../src/reenroll/schedules.js';
import { processNightly } from '../../jobs/nightly.js';
import { ingestRows } from '../../src/runs/ingest.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { commonFlags, firstRun, ledgerCount, sink, TOKEN, userId, writeDirectory, writeInput } from './helpers.js';

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;
let runtime: Runtime | undefined;
const clients: Array<{ disconnect(): void } | { close(): Promise<void> }> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-schedule-'));
  prefix = uniquePrefix('schedule');
});
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
  for (const c of clients.splice(0)) {
    if ('close' in c) await c.close().catch(() => undefined);
    else c.disconnect();
  }
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

function redis(): Redis {
  const r = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  clients.push(r);
  return r;
}

function controlQueue(): Queue {
  const q = new Queue(QUEUES.control, { connection: redis(), prefix });
  clients.push(q);
  return q;
}

function row(n: number, outcome: string, extra: Partial<ReportRow> = {}): ReportRow {
  return {
    row: String(n),
    userId: userId(n),
    login: '',
    factorType: 'push',
    provider: 'OKTA',
    deviceName: '',
    outcome,
    status: '',
    factorId: '',
    errorCode: '',
    errorSummary: '',
    attempts: '1',
    enrolledAt: '',
    finishedAt: '',
    note: '',
    delivery: '',
    ...extra,
  };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('schedule: register, list, remove', () => {
  it('upserts a job scheduler idempotently by name, stores the report rows, lists and removes it', async () => {
    const from = join(dir, 'last.csv');
    await writeReport(from, [row(1, 'expired'), row(2, 'activated'), row(3, 'failed', { errorCode: 'NETWORK_ERROR' })]);
    const base = { redis: redisUrl(), prefix };
    const out = sink();

    const created = await scheduleCommand({ ...base, name: 'nightly', cron: '30 1 * * *', tz: 'Europe/Berlin', from, reportDir: join(dir, 'reports') }, { out: out.out });
    expect(created).toMatchObject({ action: 'upsert', name: 'nightly', rows: 3, created: true });
    // The next tick is at 01:30 Berlin time, whatever the season.
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' });
    expect(berlin.format(new Date((created as { next: string }).next))).toBe('01:30');
    expect(out.text()).toContain('Schedule nightly created: "30 1 * * *" (Europe/Berlin), next ');

    const again = await scheduleCommand({ ...base, name: 'nightly', cron: '30 1 * * *', tz: 'Europe/Berlin', from, reportDir: join(dir, 'reports') }, { out: sink().out });
    expect(again).toMatchObject({ action: 'upsert', created: false, next: (created as { next: string }).next });
    const q = controlQueue();
    expect(await q.getJobSchedulersCount()).toBe(1);
    expect(await q.getDelayedCount()).toBe(1);

    // What a tick needs is in Redis: the report's rows and the selection, not the path.
    const schedules = new ScheduleStore(redis(), prefix);
    const stored: ReportRow[] = [];
    for await (const r of schedules.rows('nightly')) stored.push(r);
    expect(stored.map((r) => [r.row, r.outcome])).toEqual([['1', 'expired'], ['2', 'activated'], ['3', 'failed']]);
    rmSync(from);

    await scheduleCommand({ ...base, name: 'finance', every: '60000', group: '00gfinance000000001', maxAttempts: '2' }, { out: sink().out });
    const listOut = sink();
    const listed = await scheduleCommand({ ...base, list: true, json: true }, { out: listOut.out });
    const list = (listed as { schedules: ScheduleListing[] }).schedules;
    expect(list.map((s) => [s.name, s.cron ?? s.every, s.tz ?? '', s.source, s.rows, s.maxAttempts])).toEqual([
      ['finance', 60000, '', 'group 00gfinance000000001', 0, 2],
      ['nightly', '30 1 * * *', 'Europe/Berlin', 'report last.csv', 3, 5],
    ]);
    expect(JSON.parse(listOut.text())).toEqual(list);
    const text = sink();
    await scheduleCommand({ ...base, list: true }, { out: text.out });
    expect(text.text()).toMatch(/^nightly: "30 1 \* \* \*" \(Europe\/Berlin\), next \d{4}-/m);
    expect(text.text()).toContain('source report last.csv; 3 rows stored (as registered); reports to ');

    // Updating without a source keeps the stored rows.
    await scheduleCommand({ ...base, name: 'nightly', cron: '45 0 * * *', tz: 'UTC' }, { out: sink().out });
    expect((await schedules.get('nightly'))?.rowCount).toBe(3);
    expect(await q.getJobSchedulersCount()).toBe(2);

    const removed = await scheduleCommand({ ...base, remove: 'nightly' }, { out: sink().out });
    expect(removed).toEqual({ action: 'remove', name: 'nightly', removed: true });
    expect(await q.getJobSchedulersCount()).toBe(1);
    expect(await schedules.get('nightly')).toBeUndefined();
    expect(await redis().exists(`${prefix}:be:schedule:nightly:rows`)).toBe(0);
    const err = await scheduleCommand({ ...base, remove: 'nightly' }, { out: sink().out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).code).toBe(2);
    expect((err as Error).message).toContain('--remove nightly: there is no schedule by this name');
  });

  it('says what is wrong with the flags, all at once', async () => {
    const base = { redis: redisUrl(), prefix };
    const err = await scheduleCommand({ ...base, name: 'bad:name', cron: '61 1 * * *', tz: 'Mars/Olympus', from: 'a.csv', group: '00g1' }, { out: sink().out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems[0]).toBe('--name: expected 1 to 64 letters, digits, _ . -, got `bad:name`');
    expect(problems[1]).toBe('--tz: expected an IANA time zone such as Europe/Berlin or UTC, got `Mars/Olympus`');
    expect(problems[2]).toMatch(/^--cron: expected a cron pattern such as "30 1 \* \* \*" \(minute hour day month weekday\), got `61 1 \* \* \*`/);
    expect(problems[3]).toBe('--from, --group: expected one source, got both (--from a.csv and --group 00g1)');
    const err2 = await scheduleCommand({ ...base, name: 'n', tz: 'UTC', every: '10' }, { out: sink().out }).catch((e: unknown) => e);
    expect((err2 as ConfigError).problems).toEqual([
      '--every: expected a whole number of milliseconds from 1000, got `10`',
      '--tz: only used with --cron',
    ]);
    const err3 = await scheduleCommand({ ...base, name: 'new', every: '5000' }, { out: sink().out }).catch((e: unknown) => e);
    expect((err3 as ConfigError).problems).toEqual(['--from, --group: a new schedule needs a source (a previous report or a group id), got neither for --name new']);
    expect(await controlQueue().getJobSchedulersCount()).toBe(0);
  });
});

describe('nightly job', () => {
  it('runs nights inside a worker, each from the previous night, skipping ticks while one is going', async () => {
    const second = [0, 1].map((i) => ({ id: userId(10 + i), login: `s${i}@example.com`, activation: 'never;400' }));
    const never = [0, 1].map((i) => ({ id: userId(20 + i), login: `n${i}@example.com`, activation: 'never' }));
    const fine = { id: userId(30), login: 'fine@example.com', activation: '200' };
    sim = await startSimulator({ usersCsv: writeDirectory(dir, [...second, ...never, fine]), activationTtlMs: 1500, rateLimit: 100_000, token: TOKEN });
    const flags = commonFlags(sim.url, prefix, dir);
    const night0 = await firstRun(writeInput(dir, [fine, ...second, ...never].map((u) => `${u.id},,push,OKTA`)), join(dir, 'night0.csv'), flags);
    expect(night0.map((r) => r.outcome)).toEqual(['activated', 'expired', 'expired', 'expired', 'expired']);

    const reportDir = join(dir, 'reports');
    await scheduleCommand({ redis: redisUrl(), prefix, name: 'nightly', every: '1000', from: join(dir, 'night0.csv'), reportDir, maxAttempts: '3', pollInitialMs: '100', pollMaxMs: '200' }, { out: sink().out });
    rmSync(join(dir, 'night0.csv'));

    const config = loadProcessConfig(flags, { env: { OKTA_API_TOKEN: TOKEN } });
    const logFile = join(dir, 'worker.log');
    runtime = await startRuntime({ config, tasks, logger: createLogger({ level: 'info', file: logFile, console: false }), control: { lockTtlMs: 3000, waitIntervalMs: 100 } });
    const schedules = new ScheduleStore(redis(), prefix);
    const store = new RunStore(redis(), prefix);

    // Night 1 restarts 4 activations; night 2 restarts the 2 still expired (3rd attempt); night 3: MAX_ATTEMPTS; night 4: nothing left.
    const nightly = async () => {
      const ids = await store.listRuns(100);
      const metas = await Promise.all(ids.map((id) => store.getMeta(id)));
      return metas.filter((m) => m?.fileName === 'schedule nightly').sort((a, b) => a!.createdAt.localeCompare(b!.createdAt));
    };
    // A night is over once its job has written the report and its manifest.
    const runs = await until(
      'four finished nights',
      async () => {
        const four = (await nightly()).slice(0, 4);
        return four.length === 4 && four.every((m) => existsSync(join(reportDir, `nightly-${m!.id}.csv.manifest.json`))) ? four : undefined;
      },
      45_000,
    );
    await scheduleCommand({ redis: redisUrl(), prefix, remove: 'nightly' }, { out: sink().out });

    const reports = runs.map((m) => join(reportDir, `nightly-${m!.id}.csv`));
    for (const r of reports) {
      expect(existsSync(r)).toBe(true);
      expect(JSON.parse(readFileSync(`${r}.manifest.json`, 'utf8'))).toMatchObject({ command: 'reenroll', summary: { schedule: 'nightly' } });
    }
    const [n1, n2, n3, n4] = reports.map((r) => readReportFile(r));
    expect(n1!.map((r) => [r.row, r.userId, r.outcome])).toEqual([
      ['2', second[0]!.id, 'activated'],
      ['3', second[1]!.id, 'activated'],
      ['4', never[0]!.id, 'expired'],
      ['5', never[1]!.id, 'expired'],
    ]);
    expect(n2!.map((r) => [r.row, r.outcome])).toEqual([['4', 'expired'], ['5', 'expired']]);
    expect(n3!.map((r) => [r.row, r.outcome, r.errorCode])).toEqual([['4', 'failed', 'MAX_ATTEMPTS'], ['5', 'failed', 'MAX_ATTEMPTS']]);
    expect(n4).toEqual([]);
    expect(await ledgerCount(prefix, never[0]!.id)).toBe(3);
    expect(await ledgerCount(prefix, second[0]!.id)).toBe(2);
    expect(sim.stats().duplicateEnrollments).toBe(0);

    // Nights never overlapped, and ticks that came while one was going were skipped.
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.createdAt >= runs[i - 1]!.finishedAt!).toBe(true);
    const state = await schedules.get('nightly');
    expect(state).toBeUndefined(); // removed above
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/nightly nightly: skipped: the previous nightly run \S+ \(job repeat:nightly:\d+\) is still going/);
    expect(log).toContain(`nightly nightly: run ${runs[0]!.id} started with 4 rows (from the registered report)`);
    expect(log).toContain(`nightly nightly: run ${runs[1]!.id} started with 2 rows (from run ${runs[0]!.id})`);
  });

  it('skips a tick while another job holds the lock; the same job id takes it over and resumes its run', async () => {
    const schedules = new ScheduleStore(redis(), prefix);
    const store = new RunStore(redis(), prefix);
    await schedules.save({ name: 'n', source: { kind: 'report', file: 'x.csv', sha256: 'a'.repeat(64), rows: 0 }, reportDir: join(dir, 'r'), includeFailed: false, includePending: false, settings: { revisit: true } as never }, []);
    const lock = schedules.lock('n', 5000);
    expect((await lock.acquire('repeat:n:1', 'tok-1')).kind).toBe('acquired');
    expect(await lock.setRunId('tok-1', '20260101-013000-abcd')).toBe(true);

    const logs: string[] = [];
    const logger = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), debug: () => undefined } as never;
    const ctx = (jobId: string) => ({ jobId, signal: new AbortController().signal, delayUntil: async () => { throw new Error('not expected'); } });
    const deps = { store, schedules, logger, now: () => Date.now(), lockTtlMs: 5000, waitIntervalMs: 50 };

    const skipped = await processNightly({ schedule: 'n' }, ctx('repeat:n:2'), deps);
    expect(skipped).toEqual({ kind: 'skipped', reason: 'the previous nightly run 20260101-013000-abcd (job repeat:n:1) is still going', heldBy: 'repeat:n:1', runId: '20260101-013000-abcd' });
    expect(logs).toEqual(['nightly n: skipped: the previous nightly run 20260101-013000-abcd (job repeat:n:1) is still going']);
    expect((await schedules.get('n'))?.skipped).toBe(1);
    expect(await store.getMeta('20260101-013000-abcd')).toBeUndefined();

    // The same job id again (BullMQ re-running it after a stall): takes over, starts the run the lock names, finishes it.
    const resumed = await processNightly({ schedule: 'n' }, ctx('repeat:n:1'), deps);
    expect(resumed).toMatchObject({ kind: 'finished', runId: '20260101-013000-abcd', resumed: true, counts: { total: 0 } });
    expect(logs).toContain('nightly n: took over after a stall; resuming run 20260101-013000-abcd');
    expect(await lock.read()).toBeUndefined();
    expect(readdirSync(join(dir, 'r'))).toEqual(['n-20260101-013000-abcd.csv', 'n-20260101-013000-abcd.csv.manifest.json']);
    // Its heartbeat lost to another holder, a job stops without touching the run.
    expect((await lock.acquire('repeat:n:3', 'tok-3')).kind).toBe('acquired');
    expect(await lock.extend('tok-1')).toBe(false);
    expect(await lock.release('tok-1')).toBe(false);
    expect((await lock.read())?.jobId).toBe('repeat:n:3');
  });

  it('a night whose schedule is removed meanwhile still writes its report and keeps nothing in Redis', async () => {
    const r = redis();
    const schedules = new ScheduleStore(r, prefix);
    const store = new RunStore(r, prefix);
    await schedules.save({ name: 'gone', source: { kind: 'report', file: 'x.csv', sha256: 'a'.repeat(64), rows: 0 }, reportDir: join(dir, 'r'), includeFailed: false, includePending: false, settings: { revisit: true } as never }, []);
    const runId = '20260101-013000-gone';
    await ingestRows(store, [{ fileRow: '7', input: { row: 7, userId: userId(7), factorType: 'push', provider: 'OKTA' } }], { revisit: true } as never, { runId, command: 'reenroll' });
    const lock = schedules.lock('gone', 5000);
    await lock.acquire('repeat:gone:1', 'tok');
    await lock.setRunId('tok', runId);
    const logs: string[] = [];
    const logger = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), debug: () => undefined } as never;
    const night = processNightly(
      { schedule: 'gone' },
      { jobId: 'repeat:gone:1', signal: new AbortController().signal, delayUntil: async () => { throw new Error('not expected'); } },
      { store, schedules, logger, now: () => Date.now(), lockTtlMs: 5000, waitIntervalMs: 50 },
    );
    await until('the job to wait on its run', async () => logs.some((l) => l.includes('resuming run')));
    await scheduleCommand({ redis: redisUrl(), prefix, remove: 'gone' }, { out: sink().out });
    await store.finalize(runId, 1, { outcome: 'expired', userId: userId(7), attempts: 1, finishedAt: new Date().toISOString(), delivery: 'none' });
    expect(await night).toMatchObject({ kind: 'finished', runId, counts: { total: 1, expired: 1 } });
    expect(readReportFile(join(dir, 'r', `gone-${runId}.csv`)).map((x) => [x.row, x.outcome])).toEqual([['7', 'expired']]);
    expect(logs).toContain(`nightly gone: the schedule was removed during run ${runId}; report written, nothing kept for a next night`);
    expect(await r.keys(`${prefix}:be:schedule:gone*`)).toEqual([]);
  });
});
