/**
 * Black-box check with a client written by someone else against Okta's documented API:
 * the official Okta Node SDK (@okta/okta-sdk-nodejs, devDependency), unchanged, over
 * http against --dialect okta: enroll, get, list, delete, user lookup, and its own
 * retry after a 429 using X-Rate-Limit-Reset and Date (also when the org's clock is off).
 */
import { describe, expect, test } from 'vitest';
import { createRequire } from 'node:module';
import { sim } from './helpers.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const okta = require('@okta/okta-sdk-nodejs') as typeof import('@okta/okta-sdk-nodejs');

function sdk(orgUrl: string) {
  return new okta.Client({ orgUrl, token: 'sdk-token', testing: { disableHttpsCheck: true } } as ConstructorParameters<typeof okta.Client>[0]);
}

describe('official Okta Node SDK against the simulator', () => {
  test('enroll, get, list, delete a push factor; get a user by login', async () => {
    const s = await sim({ token: 'sdk-token' });
    const client = sdk(s.sim.url);
    const u = s.users[0]!;
    const user = await client.userApi.getUser({ userId: u.login });
    expect(user.id).toBe(u.id);
    expect(user.profile?.login).toBe(u.login);

    const factor = await client.userFactorApi.enrollFactor({ userId: u.id, body: { factorType: 'push', provider: 'OKTA' } as never });
    expect(factor.id).toMatch(/^opf/);
    expect(factor.status).toBe('PENDING_ACTIVATION');
    expect(factor.factorType).toBe('push');
    const embedded = factor._embedded as { activation?: { factorResult?: string } } | undefined;
    expect(embedded?.activation?.factorResult).toBe('WAITING');

    const got = await client.userFactorApi.getFactor({ userId: u.id, factorId: factor.id! });
    expect(got.id).toBe(factor.id);
    expect(got.status).toBe('PENDING_ACTIVATION');

    const ids: string[] = [];
    const list = await client.userFactorApi.listFactors({ userId: u.id });
    await list.each((f) => {
      ids.push(f.id!);
    });
    expect(ids).toEqual([factor.id]);

    await client.userFactorApi.unenrollFactor({ userId: u.id, factorId: factor.id! });
    expect(s.sim.factors()).toHaveLength(0);
    const after: string[] = [];
    await (await client.userFactorApi.listFactors({ userId: u.id })).each((f) => {
      after.push(f.id!);
    });
    expect(after).toEqual([]);

    await expect(client.userFactorApi.getFactor({ userId: u.id, factorId: factor.id! })).rejects.toMatchObject({ status: 404, errorCode: 'E0000007' });
    const wrong = sdk(s.sim.url);
    (wrong as unknown as { http: { defaultHeaders: Record<string, string> } }).http.defaultHeaders.Authorization = 'SSWS not-the-token';
    await expect(wrong.userApi.getUser({ userId: u.id })).rejects.toMatchObject({ status: 401, errorCode: 'E0000011' });
  });

  test('the SDK waits for X-Rate-Limit-Reset (against Date) after a 429 and its retry succeeds', async () => {
    const s = await sim({ rateLimit: 2, rateWindowMs: 1000 });
    const client = sdk(s.sim.url);
    const u = s.users[1]!;
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const list = await client.userFactorApi.listFactors({ userId: u.id });
      await list.each(() => undefined);
    }
    const st = s.sim.stats();
    expect(st.rateLimited).toBeGreaterThanOrEqual(1);
    expect(st.requests.byStatus['200']).toBe(3);
    const retries = s.sim.requests().filter((r) => r.retryCount !== undefined);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    const refused = s.sim.requests().find((r) => r.status === 429)!;
    expect(retries[0]!.retryFor).toBe(refused.requestId);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  test('with the org\'s clock an hour ahead the SDK still waits only until the window resets (it reads Reset against Date)', async () => {
    const s = await sim({ rateLimit: 1, rateWindowMs: 1000, clockOffsetMs: 3_600_000 });
    const client = sdk(s.sim.url);
    const started = Date.now();
    for (let i = 0; i < 2; i++) {
      const list = await client.userFactorApi.listFactors({ userId: s.users[2]!.id });
      await list.each(() => undefined);
    }
    expect(s.sim.stats().rateLimited).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
