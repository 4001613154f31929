/**
 * `audit` against the real simulator over HTTP, with a real Redis (test/helpers/redis.ts):
 * the inventory of a user list and of a group read over several pages must match the
 * simulator's own record of factors (/__sim/factors) exactly, NONE and NOT_FOUND rows
 * included; the summary and the manifest must add up.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { auditCommand } from '../../src/commands/audit.js';
import { limiterKeys } from '../../src/limiter/index.js';
import { INVENTORY_COLUMNS } from '../../src/audit/inventory.js';
import { ConfigError, ExitError, FatalRunError } from '../../src/errors.js';
import type { SimFactorRecord } from '../../src/simulator/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { sink, startOrg, TOKEN, userId, type Org } from './helpers.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * What the inventory must hold for these users: the simulator's factors, NONE for users
 * without. The seed dialect's push factor bodies carry no `provider` (only a `_links.provider`
 * href, which holds a provider id in the seed document), so there the column stays empty.
 */
function expectedInventory(org: Org, ids: string[], opts: { seedPush?: boolean } = {}): Array<Record<string, string>> {
  const byUser = new Map<string, SimFactorRecord[]>();
  for (const f of org.sim.factors()) {
    const list = byUser.get(f.userId) ?? [];
    list.push(f);
    byUser.set(f.userId, list);
  }
  const loginOf = new Map(org.users.map((u) => [u.id, u.login]));
  const rows: Array<Record<string, string>> = [];
  for (const id of ids) {
    const login = loginOf.get(id)!;
    const factors = byUser.get(id) ?? [];
    if (!factors.length) rows.push({ userId: id, login, factorId: '', factorType: '', provider: '', status: 'NONE', created: '', lastUpdated: '' });
    for (const f of factors) {
      rows.push({ userId: id, login, factorId: f.factorId, factorType: f.factorType, provider: opts.seedPush && f.factorType === 'push' ? '' : f.provider, status: f.status, created: f.created, lastUpdated: f.lastUpdated });
    }
  }
  return rows;
}

const key = (r: Record<string, string>) => `${r.userId}|${r.factorId}`;
const sorted = (rows: Array<Record<string, string>>) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

describe('audit', () => {
  let org: Org | undefined;
  let prefix: string;
  beforeEach(() => {
    prefix = uniquePrefix('audit');
  });
  afterEach(async () => {
    await org?.close();
    org = undefined;
    await cleanPrefix(redisUrl(), prefix);
  });

  const flags = (o: Org, extra: Record<string, unknown>) => ({
    orgUrl: o.sim.url,
    redis: redisUrl(),
    prefix,
    logFile: join(o.dir, 'audit.log'),
    logLevel: 'error',
    // the shared limiter is real; its budget is set far above what these tests use
    rateLimit: '100000',
    usersRateLimit: '100000',
    ...extra,
  });
  const env = { OKTA_API_TOKEN: TOKEN };

  it.each(['okta', 'seed'] as const)('inventories a user list by id and by login, with NONE and NOT_FOUND rows (%s dialect)', async (dialect) => {
    org = await startOrg({ count: 40, dialect });
    const dir = org.dir;
    // ids and logins mixed, other columns ignored, one user twice (by id, then by login), two unknown users
    const lines = ['login,userId,department'];
    const listed: string[] = [];
    org.users.forEach((u, i) => {
      if (i % 3 === 0) lines.push(`${u.login},,Finance`);
      else lines.push(`,${u.id},Sales`);
      listed.push(u.id);
    });
    lines.push(`${org.users[5]!.login},,Finance`);
    lines.push(',00uNOBODY00000000000,Sales');
    lines.push('ghost@example.com,,Sales');
    const input = join(dir, 'users.csv');
    writeFileSync(input, `${lines.join('\n')}\n`);
    const out = join(dir, 'inventory.csv');
    const printed = sink();
    const progress = sink();

    const result = await auditCommand(input, flags(org, { out }), { env, out: printed.stream, err: progress.stream });
    // progress (not a terminal: plain lines), ending on the final counts
    expect(progress.text().trim().split('\n').pop()).toMatch(/audit: 42\/\? done \(with active push 12, without 28, not read 2\)/);

    const rows = readReportFile(out);
    expect(Object.keys(rows[0]!)).toEqual([...INVENTORY_COLUMNS]);
    const notFound = rows.filter((r) => r.status === 'NOT_FOUND');
    expect(notFound).toEqual([
      { userId: '00uNOBODY00000000000', login: '', factorId: '', factorType: '', provider: '', status: 'NOT_FOUND', created: '', lastUpdated: '' },
      { userId: '', login: 'ghost@example.com', factorId: '', factorType: '', provider: '', status: 'NOT_FOUND', created: '', lastUpdated: '' },
    ]);
    const found = rows.filter((r) => r.status !== 'NOT_FOUND');
    expect(sorted(found)).toEqual(sorted(expectedInventory(org, listed, { seedPush: dialect === 'seed' })));
    // file order: users in the list's order (the repeated user once)
    const order = [...new Set(found.map((r) => r.userId))];
    expect(order).toEqual(listed);

    // every status of the org appears, and the summary counts what the file holds
    const active = dialect === 'seed' ? 'ACTIVATED' : 'ACTIVE';
    const statuses = new Set(rows.map((r) => r.status));
    for (const s of [active, 'EXPIRED', 'PENDING_ACTIVATION', 'NONE', 'NOT_FOUND']) expect(statuses).toContain(s);
    const activePushUsers = new Set(rows.filter((r) => r.factorType === 'push' && r.status === active).map((r) => r.userId)).size;
    expect(activePushUsers).toBe(12); // i % 10 in 0..2 of 40 users
    expect(result.activePushUsers).toBe(activePushUsers);
    expect(result.users).toBe(42);
    expect(result.read).toBe(40);
    expect(result.notFound).toBe(2);
    expect(result.rows).toBe(rows.length);
    const text = printed.text();
    expect(text).toContain(`active push factor: 12 of 40 users read (30.0%)`);
    expect(text).toMatch(new RegExp(`push ${rows.filter((r) => r.factorType === 'push').length}\\b`));
    expect(text).toMatch(new RegExp(`sms ${rows.filter((r) => r.factorType === 'sms').length}\\b`));
    expect(text).toMatch(new RegExp(`NONE ${rows.filter((r) => r.status === 'NONE').length}\\b`));
    expect(statSync(out).mode & 0o777).toBe(0o600);

    // the manifest next to it
    const manifestFile = `${out}.manifest.json`;
    expect(result.manifestPath).toBe(manifestFile);
    const raw = readFileSync(manifestFile, 'utf8');
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain(redisUrl());
    const m = JSON.parse(raw);
    expect(m.command).toBe('audit');
    expect(m.tool.version).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    expect(m.operator).toBe(userInfo().username);
    expect(m.host).toBe(hostname());
    expect(m.input).toEqual({ name: 'users.csv', path: 'users.csv', bytes: statSync(input).size, sha256: sha256(input) });
    expect(m.report).toEqual({ name: 'inventory.csv', path: 'inventory.csv', bytes: statSync(out).size, sha256: sha256(out) });
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status!] = (byStatus[r.status!] ?? 0) + 1;
    expect(m.counts).toEqual(byStatus);
    expect(m.options).toMatchObject({ out, orgUrl: org.sim.url, prefix });
    expect(Object.keys(m.options)).not.toContain('redis');
    expect(Object.keys(m.options)).not.toContain('logFile');
    expect(Date.parse(m.startedAt)).toBeLessThanOrEqual(Date.parse(m.finishedAt));
    expect(m.signature).toBeUndefined();
  });

  it('inventories a group read page by page, members only', async () => {
    org = await startOrg({ count: 480, group: '00gFinance000000001', groupSize: 450 });
    const out = join(org.dir, 'finance.csv');
    const printed = sink();
    org.sim.resetStats();

    const result = await auditCommand(undefined, flags(org, { out, group: '00gFinance000000001', pageSize: '64', concurrency: '12' }), { env, out: printed.stream });

    const members = org.users.filter((u) => u.groups.length).map((u) => u.id);
    expect(members).toHaveLength(450);
    const rows = readReportFile(out);
    expect(sorted(rows)).toEqual(sorted(expectedInventory(org, members)));
    expect([...new Set(rows.map((r) => r.userId))]).toEqual(members);
    // ceil(450 / 64) = 8 pages, each followed from the previous answer's Link header
    const pages = org.sim.requests().filter((r) => r.path.startsWith('/api/v1/groups/'));
    expect(pages).toHaveLength(8);
    expect(pages.slice(1).every((r) => /[?&]after=/.test(r.path))).toBe(true);
    // group members come with their login: no user lookups
    expect(org.sim.requests().filter((r) => /^\/api\/v1\/users\/[^/]+$/.test(r.path.split('?')[0]!))).toHaveLength(0);
    expect(result.users).toBe(450);
    expect(result.activePushUsers).toBe(135);
    const m = JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8'));
    expect(m.input).toBeUndefined();
    expect(m.options.group).toBe('00gFinance000000001');
    expect(m.summary.activePushUsers).toBe(135);
    // every request went through the shared rate limiter on this Redis and prefix
    const redis = new Redis(redisUrl());
    try {
      for (const bucket of ['groups', 'factors'] as const) expect(await redis.exists(limiterKeys(prefix, bucket).state)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('says so when the group does not exist (exit 2) and writes nothing', async () => {
    org = await startOrg({ count: 3 });
    const out = join(org.dir, 'none.csv');
    const err = await auditCommand(undefined, flags(org, { out, group: '00gMissing' }), { env, out: sink().stream }).catch((e) => e);
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).code).toBe(2);
    expect((err as Error).message).toMatch(/--group 00gMissing: Okta has no such group/);
    expect(existsSync(out)).toBe(false);
  });

  it('stops with exit 1 and no inventory when Okta rejects the token', async () => {
    org = await startOrg({ count: 5 });
    const input = join(org.dir, 'u.csv');
    writeFileSync(input, `userId\n${userId(0)}\n${userId(1)}\n`);
    const out = join(org.dir, 'inv.csv');
    const err = await auditCommand(input, flags(org, { out }), { env: { OKTA_API_TOKEN: 'wrong-token-000000' }, out: sink().stream }).catch((e) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toMatch(/Okta rejected the API token/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.manifest.json`)).toBe(false);
  });

  it('refuses usage problems together, before any Okta call', async () => {
    org = await startOrg({ count: 2 });
    const input = join(org.dir, 'u.csv');
    writeFileSync(input, `userId\n${userId(0)}\n`);
    org.sim.resetStats();
    const err = await auditCommand(input, flags(org, { out: join(org.dir, 'x.csv'), group: 'bad id!', concurrency: '0', signKey: join(org.dir, 'no-such-key.pem') }), { env, out: sink().stream }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/<users> and --group: expected one of them, got both/);
    expect(problems).toMatch(/--group: expected an Okta group id .* got `bad id!`/);
    expect(problems).toMatch(/--concurrency: expected a whole number from 1 to 75, got `0`/);
    expect(problems).toMatch(/--sign-key: cannot read .*no-such-key\.pem \(ENOENT\)/);
    expect(org.sim.stats().requests.total).toBe(0);
  });

  it('refuses a list whose rows name no usable user, naming the rows', async () => {
    org = await startOrg({ count: 2 });
    const input = join(org.dir, 'u.csv');
    writeFileSync(input, `userId,login\n${userId(0)},\n,\nnot-an-id!,\n`);
    org.sim.resetStats();
    const err = await auditCommand(input, flags(org, { out: join(org.dir, 'x.csv') }), { env, out: sink().stream }).catch((e) => e);
    expect((err as Error).name).toBe('InputFileError');
    expect((err as Error).message).toMatch(/row 2: userId: expected an Okta user id .* got "not-an-id!"/);
    expect(org.sim.stats().requests.total).toBe(0);
  });

  it('says clearly when Redis (for the shared rate limiter) is unreachable', async () => {
    org = await startOrg({ count: 2 });
    const input = join(org.dir, 'u.csv');
    writeFileSync(input, `userId\n${userId(0)}\n`);
    const err = await auditCommand(input, { ...flags(org, { out: join(org.dir, 'x.csv') }), redis: 'redis://127.0.0.1:1' }, { env, out: sink().stream }).catch((e) => e);
    expect(err).toBeInstanceOf(FatalRunError);
    expect((err as Error).message).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1/);
  });
});
