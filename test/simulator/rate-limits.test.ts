/**
 * Okta's rate limits as the simulator plays them: per-bucket windows that open with
 * the first request after the previous one closed (driven here by an injected clock),
 * X-Rate-Limit-* on every answer, the concurrency limit, and /__sim/* exemption.
 */
import { describe, expect, test } from 'vitest';
import { Pool } from 'undici';
import { manualClock, sim, sleep } from './helpers.js';

describe('rate-limit windows', () => {
  test('a window opens with the first request, Reset is its end rounded up, budget then 429 E0000047', async () => {
    const clock = manualClock(1_700_000_000_300);
    const s = await sim({ clock, rateLimit: 3, rateWindowMs: 10_000 });
    const u = s.users[0]!;
    const path = `/api/v1/users/${u.id}/factors`;
    const seen: Array<[number, string, string, string]> = [];
    for (let i = 0; i < 4; i++) {
      const r = await s.call('GET', path);
      seen.push([r.status, String(r.headers['x-rate-limit-limit']), String(r.headers['x-rate-limit-remaining']), String(r.headers['x-rate-limit-reset'])]);
      clock.advance(1000);
    }
    const reset1 = String(Math.ceil((1_700_000_000_300 + 10_000) / 1000));
    expect(seen).toEqual([
      [200, '3', '2', reset1],
      [200, '3', '1', reset1],
      [200, '3', '0', reset1],
      [429, '3', '0', reset1],
    ]);
    const refused = await s.call('GET', path);
    expect(refused.body.errorCode).toBe('E0000047');
    // The window ends 10 s after its first request, not on a clock boundary; the next
    // window opens with the first request after that, whenever it comes.
    clock.set(1_700_000_000_300 + 10_000 - 1);
    expect((await s.call('GET', path)).status).toBe(429);
    clock.set(1_700_000_000_300 + 13_777);
    const next = await s.call('GET', path);
    expect(next.status).toBe(200);
    expect(next.headers['x-rate-limit-remaining']).toBe('2');
    expect(next.headers['x-rate-limit-reset']).toBe(String(Math.ceil((1_700_000_000_300 + 13_777 + 10_000) / 1000)));
    const st = s.sim.stats();
    expect(st.rateLimited).toBe(3);
    expect(st.requests.byStatus).toEqual({ '200': 4, '429': 3 });
    expect(st.byBucket.factors!.maxUsed).toBe(3);
  });

  test('buckets are separate: factors, users, logs (smaller budget), and 401s are counted too', async () => {
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ clock, rateLimit: 2, usersRateLimit: 5, logsRateLimit: 1, rateWindowMs: 60_000 });
    const u = s.users[0]!;
    expect((await s.call('GET', `/api/v1/users/${u.id}/factors`)).status).toBe(200);
    expect((await s.call('GET', `/api/v1/users/${u.id}/factors`)).status).toBe(200);
    expect((await s.call('GET', `/api/v1/users/${u.id}/factors`)).status).toBe(429);
    const user = await s.call('GET', `/api/v1/users/${u.id}`);
    expect(user.status).toBe(200);
    expect(user.headers['x-rate-limit-limit']).toBe('5');
    expect(user.headers['x-rate-limit-remaining']).toBe('4');
    const log1 = await s.call('GET', '/api/v1/logs');
    expect(log1.headers['x-rate-limit-limit']).toBe('1');
    expect((await s.call('GET', '/api/v1/logs')).status).toBe(429);
    const groups = await s.call('GET', '/api/v1/groups');
    expect(groups.headers['x-rate-limit-remaining']).toBe('1');
  });

  test('/__sim/* is exempt from limits and not counted', async () => {
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ clock, rateLimit: 1 });
    for (let i = 0; i < 5; i++) expect((await s.call('GET', '/__sim/stats')).status).toBe(200);
    expect((await s.call('GET', `/api/v1/users/${s.users[0]!.id}/factors`)).status).toBe(200);
    const stats = (await s.call('GET', '/__sim/stats')).body;
    expect(stats.requests.total).toBe(1);
    expect(stats.rateLimited).toBe(0);
    const reset = await s.call('POST', '/__sim/reset-stats');
    expect(reset.body.requests.total).toBe(0);
  });
});

describe('concurrency limit', () => {
  test('beyond the limit: 429 E0000047 with X-Rate-Limit-Limit: 0; maxConcurrent reports the peak', async () => {
    const s = await sim({ concurrencyLimit: 2, latencyMs: 300 });
    const pool = new Pool(s.sim.url, { connections: 6 });
    try {
      const path = `/api/v1/users/${s.users[0]!.id}/factors`;
      const answers = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const r = await pool.request({ method: 'GET', path, headers: { authorization: 'SSWS t' } });
          return { status: r.statusCode, limit: r.headers['x-rate-limit-limit'], body: (await r.body.json()) as { errorCode?: string } };
        }),
      );
      const refused = answers.filter((a) => a.status === 429);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
      expect(refused).toHaveLength(3);
      for (const r of refused) {
        expect(r.limit).toBe('0');
        expect(r.body.errorCode).toBe('E0000047');
      }
      const st = s.sim.stats();
      // two held by the latency, plus the refused ones while they are being answered
      expect(st.maxConcurrent).toBeGreaterThanOrEqual(3);
      expect(st.maxConcurrent).toBeLessThanOrEqual(5);
      expect(st.rateLimitedBy.concurrency).toBe(3);
      await sleep(50);
      expect(s.sim.stats().inFlight).toBe(0);
    } finally {
      await pool.destroy();
    }
  });
});
