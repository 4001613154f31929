/**
 * A second enrollment of a factor type under each --on-duplicate policy, and the
 * injected faults: 500/503 (unprocessed), connection resets (processed, then the
 * socket is destroyed), latency, and repeatability from --seed.
 */
import { describe, expect, test } from 'vitest';
import { request } from 'undici';
import { sim } from './helpers.js';

const PUSH = { factorType: 'push', provider: 'OKTA' };

describe('--on-duplicate', () => {
  test('reject (default): 400 E0000001 "A factor of this type is already set up."', async () => {
    const s = await sim();
    const u = s.users[0]!;
    expect((await s.call('POST', `/api/v1/users/${u.id}/factors`, PUSH)).status).toBe(200);
    const again = await s.call('POST', `/api/v1/users/${u.id}/factors`, PUSH);
    expect(again.status).toBe(400);
    expect(again.body.errorCode).toBe('E0000001');
    expect(again.body.errorCauses).toEqual([{ errorSummary: 'A factor of this type is already set up.' }]);
    // another type is fine
    expect((await s.call('POST', `/api/v1/users/${u.id}/factors`, { factorType: 'email', provider: 'OKTA' })).status).toBe(200);
    const st = s.sim.stats();
    expect(st.enrollCalls).toBe(2);
    expect(st.duplicateEnrollments).toBe(0);
    expect(st.factors.total).toBe(2);
  });

  test('replace: the pending factor is discarded (its QR code stops working), a new one created', async () => {
    const s = await sim({ onDuplicate: 'replace', activateRatio: 0 });
    const u = s.users[0]!;
    const first = await s.call('POST', `/api/v1/users/${u.id}/factors`, PUSH);
    const second = await s.call('POST', `/api/v1/users/${u.id}/factors`, PUSH);
    expect(second.status).toBe(200);
    expect(second.body.id).not.toBe(first.body.id);
    expect((await s.follow('GET', first.body._embedded.activation._links.qrcode.href)).status).toBe(404);
    expect((await s.follow('POST', first.body._links.poll.href)).status).toBe(404);
    expect(s.sim.factors().map((f) => f.factorId)).toEqual([second.body.id]);
    expect(s.sim.stats()).toMatchObject({ enrollCalls: 2, duplicateEnrollments: 0, factors: { total: 1 } });
  });

  test('allow: both are kept and the user counts as a duplicate enrollment', async () => {
    const s = await sim({ onDuplicate: 'allow' });
    const [u, v] = s.users;
    await s.call('POST', `/api/v1/users/${u!.id}/factors`, PUSH);
    await s.call('POST', `/api/v1/users/${u!.id}/factors`, PUSH);
    await s.call('POST', `/api/v1/users/${u!.id}/factors`, PUSH);
    await s.call('POST', `/api/v1/users/${v!.id}/factors`, PUSH);
    const list = await s.call('GET', `/api/v1/users/${u!.id}/factors`);
    expect(list.body).toHaveLength(3);
    const stats = (await s.call('GET', '/__sim/stats')).body;
    expect(stats.duplicateEnrollments).toBe(1);
    expect(stats.enrollCalls).toBe(4);
    expect(stats.factors).toEqual({ total: 4, byStatus: { PENDING_ACTIVATION: 4 } });
  });
});

describe('faults', () => {
  test('--reset-rate 1: the enrollment happens, but the connection dies before the answer', async () => {
    const s = await sim({ resetRate: 1 });
    const u = s.users[0]!;
    await expect(
      request(`${s.sim.url}/api/v1/users/${u.id}/factors`, {
        method: 'POST',
        headers: { authorization: 'SSWS t', 'content-type': 'application/json' },
        body: JSON.stringify(PUSH),
      }),
    ).rejects.toThrow(/socket|closed|other side/i);
    expect(s.sim.factors()).toHaveLength(1);
    expect(s.sim.factors()[0]!.userId).toBe(u.id);
    const st = s.sim.stats();
    expect(st.connectionResets).toBe(1);
    expect(st.enrollCalls).toBe(1);
    expect(s.sim.requests()[0]!.status).toBe(0);
  });

  test('--error-rate 1: 500/503 with an Okta error body, nothing processed', async () => {
    const s = await sim({ errorRate: 1 });
    const u = s.users[0]!;
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const r = await s.call('POST', `/api/v1/users/${u.id}/factors`, PUSH);
      statuses.add(r.status);
      expect(r.body.errorCode).toBe('E0000009');
      expect(r.headers['x-rate-limit-remaining']).toBeDefined();
    }
    expect([...statuses].sort()).toEqual([500, 503]);
    expect(s.sim.factors()).toHaveLength(0);
    expect(s.sim.stats().injectedErrors).toBe(12);
  });

  test('the same --seed gives the same faults in the same order', async () => {
    const run = async (seed: number) => {
      const s = await sim({ errorRate: 0.5, seed });
      const out: number[] = [];
      for (let i = 0; i < 16; i++) out.push((await s.call('GET', `/api/v1/users/${s.users[0]!.id}/factors`)).status);
      return out.join(',');
    };
    const a = await run(42);
    expect(await run(42)).toBe(a);
    expect(a).toMatch(/200/);
    expect(a).toMatch(/50[03]/);
    expect(await run(43)).not.toBe(a);
  });

  test('--latency-ms delays answers; 0 adds nothing', async () => {
    const slow = await sim({ latencyMs: [120, 150] });
    const t0 = Date.now();
    expect((await slow.call('GET', `/api/v1/users/${slow.users[0]!.id}`)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    const fast = await sim();
    const t1 = Date.now();
    for (let i = 0; i < 20; i++) await fast.call('GET', `/api/v1/users/${fast.users[0]!.id}`);
    expect(Date.now() - t1).toBeLessThan(500);
  });
});
