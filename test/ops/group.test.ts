/**
 * Departments as input: `run --group` / `--group-name` against the real simulator and
 * Redis (test/helpers/redis.ts): members read across several pages straight into the
 * run, `status` shows the total as unknown until the last page, filters keep the
 * members' positions as row numbers, ambiguous names list the candidates.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { statusCommand } from '../../src/commands/status.js';
import { createOktaClient } from '../../src/okta/client.js';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createRedis } from '../../src/queue/connection.js';
import { RunStore } from '../../src/runs/store.js';
import { ingestGroup } from '../../src/runs/ingest-group.js';
import { DEFAULT_RUN_SETTINGS } from '../../src/config.js';
import { ExitError } from '../../src/errors.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { collector } from './helpers.js';

const FINANCE = '00gfinance0000000001';
const TOKEN = 'group-token-0123456789';

let dir: string;
let prefix: string;
let sim: SimulatorHandle | undefined;
let members: Array<{ id: string; login: string; scans: boolean }>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'be-group-'));
  prefix = uniquePrefix('group');
  members = [];
  const lines = ['id,login,activation,group'];
  for (let i = 0; i < 26; i++) {
    const id = `00u${String(i).padStart(17, '0')}`;
    const login = `${i % 3 === 0 ? 'contractor' : 'staff'}${i}@example.com`;
    const inFinance = i < 20;
    const scans = i % 4 !== 1;
    if (inFinance) members.push({ id, login, scans });
    const groups = [inFinance ? FINANCE : '', i >= 20 ? '00gfinops00000000001' : '', i === 24 ? '00gsalesa00000000001' : '', i === 25 ? '00gsalesb00000000001' : ''].filter(Boolean).join(';');
    lines.push(`${id},${login},${scans ? 150 : 'never'},${groups}`);
  }
  writeFileSync(join(dir, 'directory.csv'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'groups.csv'),
    `id,name\n${FINANCE},Finance\n00gfinops00000000001,Finance Ops\n00gsalesa00000000001,Sales\n00gsalesb00000000001,Sales\n`,
  );
  sim = await startSimulator({ usersCsv: join(dir, 'directory.csv'), groupsCsv: join(dir, 'groups.csv'), activationTtlMs: 1500, rateLimit: 100_000, token: TOKEN });
});

afterEach(async () => {
  await sim?.close();
  sim = undefined;
  await cleanPrefix(redisUrl(), prefix);
  rmSync(dir, { recursive: true, force: true });
});

const flags = (extra: Record<string, unknown>) => ({
  report: join(dir, 'report.csv'),
  orgUrl: sim!.url,
  redis: redisUrl(),
  prefix,
  rateLimit: '100000',
  usersRateLimit: '100000',
  pollInitialMs: '100',
  logFile: join(dir, 'run.log'),
  logLevel: 'warn',
  ...extra,
});
const io = () => ({ env: { OKTA_API_TOKEN: TOKEN }, out: collector().stream });
const pageRequests = () => sim!.requests().filter((r) => r.path.startsWith(`/api/v1/groups/${FINANCE}/users`));

it('run --group enrolls every member, read page by page, each with its outcome', async () => {
  await runCommand(undefined, flags({ group: FINANCE, pageSize: '7' }), io());
  const rows = readReportFile(join(dir, 'report.csv'));
  expect(rows.map((r) => [r.row, r.userId, r.login, r.factorType])).toEqual(members.map((m, i) => [String(i + 1), m.id, m.login, 'push']));
  expect(rows.map((r) => r.outcome)).toEqual(members.map((m) => (m.scans ? 'activated' : 'expired')));
  // 20 members, 7 per page: three pages, the later ones through the rel="next" cursor
  const pages = pageRequests();
  expect(pages).toHaveLength(3);
  expect(pages[0]!.path).toContain('limit=7');
  expect(pages.slice(1).every((p) => /[?&]after=/.test(p.path))).toBe(true);
  expect(sim!.stats().duplicateEnrollments).toBe(0);
});

it('filters leave members out of the run; the rows taken keep their position', async () => {
  await runCommand(undefined, flags({ group: FINANCE, pageSize: '5', skip: ['login=^contractor'], maxRows: '6' }), io());
  const rows = readReportFile(join(dir, 'report.csv'));
  const expected = members.map((m, i) => ({ ...m, pos: i + 1 })).filter((m) => !m.login.startsWith('contractor')).slice(0, 6);
  expect(rows.map((r) => [r.row, r.userId])).toEqual(expected.map((m) => [String(m.pos), m.id]));
  // --max-rows stops reading: members past the 6th taken one are never listed
  expect(pageRequests().length).toBeLessThan(4);
});

it('status shows the total as unknown until the last page is read', async () => {
  const redis = createRedis(redisUrl());
  const real = createOktaClient({ orgUrl: sim!.url, auth: sswsAuth(TOKEN) });
  let releaseSecond!: () => void;
  const secondPageAsked = new Promise<void>((resolve) => {
    let calls = 0;
    const gate = new Promise<void>((r) => (releaseSecond = r));
    // The real client, with the second page held back until the test has looked.
    const list = real.listGroupUsers.bind(real);
    real.listGroupUsers = async (arg, limit) => {
      if (++calls === 2) {
        resolve();
        await gate;
      }
      return list(arg, limit);
    };
  });
  try {
    const store = new RunStore(redis, prefix);
    const ingest = ingestGroup(store, real, { id: FINANCE }, DEFAULT_RUN_SETTINGS, { pageSize: 8 });
    await secondPageAsked;
    const [runId] = await store.listRuns(1);
    const during = await statusCommand(runId, { redis: redisUrl(), prefix, json: true }, { out: collector().stream });
    expect(during?.total).toBeNull();
    expect((await store.getMeta(runId!))?.stored).toBe(8); // the first page is stored before the second is read
    const text = collector();
    await statusCommand(runId, { redis: redisUrl(), prefix }, { out: text.stream });
    expect(text.text()).toContain('0/? rows done');
    releaseSecond();
    const r = await ingest;
    expect(r).toMatchObject({ runId, rows: 20, members: 20, pages: 3 });
    expect((await statusCommand(runId, { redis: redisUrl(), prefix, json: true }, { out: collector().stream }))?.total).toBe(20);
  } finally {
    releaseSecond?.();
    await real.close();
    redis.disconnect();
  }
});

describe('--group-name', () => {
  it('takes the group whose name is exactly the one given', async () => {
    await runCommand(undefined, flags({ groupName: 'finance', maxRows: '3' }), io());
    expect(readReportFile(join(dir, 'report.csv')).map((r) => r.userId)).toEqual(members.slice(0, 3).map((m) => m.id));
  });

  it('several groups with the name: an error listing the candidates, nothing enrolled', async () => {
    const err = await runCommand(undefined, flags({ groupName: 'Sales' }), io()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).code).toBe(2);
    expect((err as Error).message).toContain('expected one group with this name, found 2');
    expect((err as Error).message).toContain('00gsalesa00000000001  Sales');
    expect((err as Error).message).toContain('00gsalesb00000000001  Sales');
    expect(sim!.stats().enrollCalls).toBe(0);
  });

  it('no exact match: the groups starting with it are listed', async () => {
    const err = (await runCommand(undefined, flags({ groupName: 'Fin' }), io()).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/no group has exactly this name/);
    expect(err.message).toContain(`${FINANCE}  Finance`);
    expect(err.message).toContain('00gfinops00000000001  Finance Ops');
  });
});

it('refuses a CSV and a group together, a filter on another column, an unknown group', async () => {
  await expect(runCommand(join(dir, 'x.csv'), flags({ group: FINANCE }), io())).rejects.toThrow(/expected exactly one input/);
  await expect(runCommand(undefined, flags({ group: FINANCE, match: ['department=^Fin'] }), io())).rejects.toThrow(/group input has the columns userId and login, got `department`/);
  const err = (await runCommand(undefined, flags({ group: '00gnosuchgroup000001' }), io()).catch((e: unknown) => e)) as ExitError;
  expect(err.code).toBe(2);
  expect(err.message).toMatch(/Okta has no such group/);
  const store = new RunStore(createRedis(redisUrl()), prefix);
  expect(await store.listRuns()).toEqual([]); // nothing left behind
  store.redis.disconnect();
});

it('run --group --dry-run plans every member from read-only calls', async () => {
  await runCommand(undefined, flags({ group: FINANCE, pageSize: '7', dryRun: true, plan: join(dir, 'plan.csv') }), io());
  const plan = readReportFile(join(dir, 'plan.csv'));
  expect(plan.map((p) => [p.row, p.userId, p.action])).toEqual(members.map((m, i) => [String(i + 1), m.id, 'enroll']));
  const routes = Object.keys(sim!.stats().requests.byRoute);
  expect(routes.filter((k) => !k.startsWith('GET '))).toEqual([]);
  expect(sim!.stats().enrollCalls).toBe(0);
});
