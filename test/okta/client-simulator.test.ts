/**
 * The client against the real Okta simulator (src/simulator), both dialects:
 * enroll → poll → activated, never-scan → expired, expired → activate → activated,
 * 429 (bucket, concurrency, per-factor), 5xx, reset connections, unknown user,
 * duplicate enroll, cross-origin links never contacted with the token.
 * Time is scaled down (activations live a few hundred ms).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createOktaClient } from '../../src/okta/client.js';
import { ForeignOriginError, OktaApiError, OktaNetworkError } from '../../src/okta/errors.js';
import type { FactorView, OktaClient, OktaClientOptions } from '../../src/okta/types.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/simulator/index.js';
import { startCannedServer, type CannedServer } from './helpers/canned-server.js';

const TOKEN = 'sim-token-0123456789abcdef';
let dir: string;
let usersCsv: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'okta-client-sim-'));
  usersCsv = join(dir, 'users.csv');
  writeFileSync(
    usersCsv,
    [
      'id,login,activation',
      '00uscans,scans@example.com,150',
      '00unever,never@example.com,never',
      '00usecond,second@example.com,never;150',
      '00uspare1,spare1@example.com,never',
      '00uspare2,spare2@example.com,never',
    ].join('\n') + '\n',
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let sim: SimulatorHandle | undefined;
let client: OktaClient | undefined;
let foreign: CannedServer | undefined;
const warnings: string[] = [];

afterEach(async () => {
  await client?.close();
  await sim?.close();
  await foreign?.close();
  client = undefined;
  sim = undefined;
  foreign = undefined;
  warnings.length = 0;
});

async function setup(opts: Partial<SimulatorOptions> = {}, clientOpts: Partial<OktaClientOptions> = {}): Promise<{ sim: SimulatorHandle; client: OktaClient }> {
  sim = await startSimulator({ token: TOKEN, usersCsv, activationTtlMs: 500, seed: 7, ...opts });
  client = createOktaClient({ orgUrl: sim.url, auth: sswsAuth(TOKEN), timeoutMs: 5_000, warn: (m) => warnings.push(m), ...clientOpts });
  return { sim, client };
}

const PUSH_TODAY = { factorType: 'push', provider: 'OKTA' } as const;
const PUSH_SEED = { factorType: 'push', provider: 'duo', deviceType: 'smartphone:ios', profile: { deviceName: 'My iPhone' } } as const;

/** Polls the view's poll link until it is no longer waiting (or 5 s pass). */
async function pollUntilSettled(c: OktaClient, view: FactorView): Promise<FactorView> {
  const deadline = Date.now() + 5_000;
  let current = view;
  while (current.state === 'waiting') {
    if (Date.now() > deadline) throw new Error(`still waiting after 5 s: ${JSON.stringify(current.status)}`);
    const link = current.links.poll;
    if (!link) throw new Error(`a waiting factor without a poll link: ${JSON.stringify(current.links)}`);
    await new Promise((r) => setTimeout(r, 40));
    current = await c.poll(current.userId, link);
  }
  return current;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, it succeeded');
}

describe.each(['okta', 'seed'] as const)('%s dialect', (dialect) => {
  const body = dialect === 'okta' ? PUSH_TODAY : PUSH_SEED;

  it('getUser by login, enroll → poll → activated', async () => {
    const { client: c, sim: s } = await setup({ dialect });
    const user = await c.getUser('scans@example.com');
    expect(user).toMatchObject({ id: '00uscans', login: 'scans@example.com' });
    const enrolled = await c.enrollFactor(user.id, body);
    expect(enrolled).toMatchObject({ userId: '00uscans', factorType: 'push', state: 'waiting' });
    expect(enrolled.links.poll?.method).toBe(dialect === 'okta' ? 'POST' : 'GET');
    expect(enrolled.expiresAt).toBeDefined();
    expect(enrolled.secrets).toBeDefined();
    const done = await pollUntilSettled(c, enrolled);
    expect(done.state).toBe('activated');
    expect(done.factorId).toBe(enrolled.factorId);
    expect(done.status).toBe(dialect === 'okta' ? 'ACTIVE' : 'ACTIVATED');
    expect(s.factors()).toEqual([expect.objectContaining({ userId: '00uscans', factorId: enrolled.factorId })]);
    const listed = await c.listFactors('00uscans');
    expect(listed.map((f) => [f.factorId, f.state])).toEqual([[enrolled.factorId, 'activated']]);
    const got = await c.getFactor('00uscans', enrolled.factorId);
    expect(got.state).toBe('activated');
  });

  it('never-scan → expired, with an activate link', async () => {
    const { client: c } = await setup({ dialect });
    const enrolled = await c.enrollFactor('00unever', body);
    const done = await pollUntilSettled(c, enrolled);
    expect(done.state).toBe('expired');
    expect(done.status).toBe(dialect === 'okta' ? 'TIMEOUT' : 'EXPIRED');
    expect(done.links.activate?.method).toBe('POST');
  });

  it('expired → lifecycle/activate → activated', async () => {
    const { client: c } = await setup({ dialect });
    const enrolled = await c.enrollFactor('00usecond', body);
    const expired = await pollUntilSettled(c, enrolled);
    expect(expired.state).toBe('expired');
    const restarted = await c.activate('00usecond', expired.links.activate!);
    expect(restarted.state).toBe('waiting');
    expect(restarted.factorId).toBe(enrolled.factorId);
    const done = await pollUntilSettled(c, restarted);
    expect(done.state).toBe('activated');
  });

  it('links on another origin (--link-base) are followed on the org origin only: the other listener sees no request', async () => {
    foreign = await startCannedServer();
    const { client: c, sim: s } = await setup({ dialect, linkBase: foreign.origin });
    const enrolled = await c.enrollFactor('00uscans', body);
    expect(enrolled.links.poll?.href.startsWith(s.url)).toBe(true);
    const done = await pollUntilSettled(c, enrolled);
    expect(done.state).toBe('activated');
    expect(foreign.connections).toBe(0);
    expect(warnings.some((w) => w.includes(foreign!.origin))).toBe(true);
  });

  it("links on another origin in 'fail' mode: the row fails, nothing reaches the other listener", async () => {
    foreign = await startCannedServer();
    const { client: c } = await setup({ dialect, linkBase: foreign.origin }, { foreignLinks: 'fail' });
    const enrolled = await c.enrollFactor('00uscans', body);
    await expect(c.poll('00uscans', enrolled.links.poll!)).rejects.toBeInstanceOf(ForeignOriginError);
    expect(foreign.connections).toBe(0);
  });
});

describe('errors from the simulator', () => {
  it('unknown user → 404 E0000007', async () => {
    const { client: c } = await setup();
    const e = (await rejection(c.getUser('nobody@example.com'))) as OktaApiError;
    expect(e).toBeInstanceOf(OktaApiError);
    expect(e).toMatchObject({ status: 404, errorCode: 'E0000007' });
    expect(e.requestId).toBeTruthy();
    const e2 = (await rejection(c.enrollFactor('00unobody', PUSH_TODAY))) as OktaApiError;
    expect(e2).toMatchObject({ status: 404, errorCode: 'E0000007' });
  });

  it('duplicate enroll → 400 E0000001 with the cause', async () => {
    const { client: c } = await setup();
    await c.enrollFactor('00uspare1', PUSH_TODAY);
    const e = (await rejection(c.enrollFactor('00uspare1', PUSH_TODAY))) as OktaApiError;
    expect(e).toMatchObject({ status: 400, errorCode: 'E0000001' });
    expect(e.causes.join(' ')).toMatch(/already set up/);
  });

  it('push + DUO in today\'s dialect → 400 E0000001', async () => {
    const { client: c } = await setup();
    await expect(c.enrollFactor('00uspare1', { factorType: 'push', provider: 'DUO' })).rejects.toMatchObject({ status: 400, errorCode: 'E0000001' });
  });

  it('a wrong token → 401 E0000011, no retry without a refresh', async () => {
    sim = await startSimulator({ token: TOKEN, usersCsv });
    client = createOktaClient({ orgUrl: sim.url, auth: sswsAuth('not-the-token-at-all') });
    const e = (await rejection(client.getUser('scans@example.com'))) as OktaApiError;
    expect(e).toMatchObject({ status: 401, errorCode: 'E0000011' });
    expect(e.message).not.toContain('not-the-token-at-all');
    expect(sim.stats().requests.total).toBe(1);
  });

  it('bucket 429 carries the window reset (from X-Rate-Limit-Reset and Date)', async () => {
    const { client: c } = await setup({ rateLimit: 3, rateWindowMs: 3_000 });
    for (let i = 0; i < 3; i++) await c.listFactors('00uspare1');
    const e = (await rejection(c.listFactors('00uspare1'))) as OktaApiError;
    expect(e).toMatchObject({ status: 429, errorCode: 'E0000047', rateLimitKind: 'bucket' });
    expect(e.rateLimit?.limit).toBe(3);
    expect(e.rateLimit?.remaining).toBe(0);
    // the window ends within 3 s, Reset rounded up to the second, Date to the second
    expect(e.rateLimit!.resetInMs).toBeGreaterThan(0);
    expect(e.rateLimit!.resetInMs).toBeLessThanOrEqual(5_000);
    // another bucket is unaffected
    await expect(c.getUser('scans@example.com')).resolves.toMatchObject({ id: '00uscans' });
  });

  it('concurrency 429 (X-Rate-Limit-Limit: 0)', async () => {
    const { client: c } = await setup({ concurrencyLimit: 1, latencyMs: 200 });
    const results = await Promise.allSettled([c.listFactors('00uspare1'), c.listFactors('00uspare2'), c.getUser('scans@example.com')]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as OktaApiError);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    expect(rejected.length).toBeGreaterThan(0);
    for (const e of rejected) expect(e).toMatchObject({ status: 429, rateLimitKind: 'concurrency' });
  });

  it('per-factor activation limit → 429 of kind resource', async () => {
    const { client: c } = await setup({ activationAttemptLimit: 1, activationTtlMs: 100 });
    const enrolled = await c.enrollFactor('00unever', PUSH_TODAY);
    const expired = await pollUntilSettled(c, enrolled);
    // one restart allowed in the window, the second is refused for this factor only
    const restarted = await c.activate('00unever', expired.links.activate!);
    const expiredAgain = await pollUntilSettled(c, restarted);
    const e = (await rejection(c.activate('00unever', expiredAgain.links.activate!))) as OktaApiError;
    expect(e).toMatchObject({ status: 429, rateLimitKind: 'resource' });
    await expect(c.listFactors('00uspare1')).resolves.toEqual([]);
  });

  it('injected 5xx → OktaApiError isServerError', async () => {
    const { client: c } = await setup({ errorRate: 1 });
    const e = (await rejection(c.getUser('scans@example.com'))) as OktaApiError;
    expect(e).toBeInstanceOf(OktaApiError);
    expect([500, 503]).toContain(e.status);
    expect(e.isServerError).toBe(true);
  });

  it('processed-then-reset enroll → OktaNetworkError maybeProcessed, and the factor exists', async () => {
    const { client: c, sim: s } = await setup({ resetRate: 1 });
    const e = (await rejection(c.enrollFactor('00uspare2', PUSH_TODAY))) as OktaNetworkError;
    expect(e).toBeInstanceOf(OktaNetworkError);
    expect(e.maybeProcessed).toBe(true);
    expect(e.message).not.toContain(TOKEN);
    expect(s.factors().filter((f) => f.userId === '00uspare2')).toHaveLength(1);
  });
});
