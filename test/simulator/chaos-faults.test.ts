/**
 * Faults for chaos tests, from options and changed at run time through POST /__sim/faults:
 * huge (but valid) answers to factor calls, absurd rate-limit resets, error summaries
 * that echo the credential, doubled X-Rate-Limit-* headers, and an org clock that is
 * not the runner's (/__sim/clock tells it).
 */
import { describe, expect, test } from 'vitest';
import { request } from 'undici';
import { csvFile, sim, sleep, thrown } from './helpers.js';

const PUSH = { factorType: 'push', provider: 'OKTA' };
const MiB = 1024 * 1024;

async function raw(url: string, path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  const res = await request(`${url}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { authorization: `SSWS ${init.token ?? 'chaos-token'}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, bytes: Buffer.byteLength(text) };
}

describe('hugeBodyBytes', () => {
  test('the next hugeBodyCount factor answers are padded to the size, still the same JSON; other buckets are not', async () => {
    const s = await sim({ hugeBodyBytes: 2 * MiB, hugeBodyCount: 2 });
    const u = s.users[0]!;
    const path = `/api/v1/users/${u.id}/factors`;
    const first = await raw(s.sim.url, path, { method: 'POST', body: PUSH });
    expect(first.status).toBe(200);
    expect(first.bytes).toBe(2 * MiB);
    expect(Number(first.headers['content-length'])).toBe(2 * MiB);
    const parsed = JSON.parse(first.text);
    expect(parsed.status).toBe('PENDING_ACTIVATION');
    expect((await raw(s.sim.url, `/api/v1/users/${u.id}`)).bytes).toBeLessThan(4096); // the users bucket
    const second = await raw(s.sim.url, path);
    expect(second.bytes).toBe(2 * MiB);
    expect(JSON.parse(second.text)).toEqual([expect.objectContaining({ id: parsed.id })]);
    expect((await raw(s.sim.url, path)).bytes).toBeLessThan(4096);
    expect(s.sim.stats().faults).toMatchObject({ hugeBodyLeft: 0, hugeBodies: 2 });
  });

  test('hugeBodyRate pads that share of factor answers, the same ones for the same seed', async () => {
    const run = async () => {
      const s = await sim({ hugeBodyBytes: 64 * 1024, hugeBodyRate: 0.5, seed: 5 });
      const sizes: boolean[] = [];
      for (let i = 0; i < 12; i++) sizes.push((await raw(s.sim.url, `/api/v1/users/${s.users[0]!.id}/factors`)).bytes === 64 * 1024);
      return sizes;
    };
    const a = await run();
    expect(a.filter(Boolean).length).toBeGreaterThan(0);
    expect(a.filter((x) => !x).length).toBeGreaterThan(0);
    expect(await run()).toEqual(a);
  });
});

describe('absurdReset', () => {
  test('the next N factor requests: 429, Remaining 0, Reset ten years ahead, nothing processed or charged', async () => {
    const s = await sim({ absurdReset: 2 });
    const u = s.users[0]!;
    const tenYears = Date.now() / 1000 + 9.9 * 365 * 24 * 3600;
    for (let i = 0; i < 2; i++) {
      const r = await raw(s.sim.url, `/api/v1/users/${u.id}/factors`, { method: 'POST', body: PUSH });
      expect(r.status).toBe(429);
      expect(JSON.parse(r.text).errorCode).toBe('E0000047');
      expect(r.headers['x-rate-limit-remaining']).toBe('0');
      expect(Number(r.headers['x-rate-limit-reset'])).toBeGreaterThan(tenYears);
    }
    expect(s.sim.factors()).toHaveLength(0);
    const ok = await raw(s.sim.url, `/api/v1/users/${u.id}/factors`, { method: 'POST', body: PUSH });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-rate-limit-remaining']).toBe('599');
    // set again at run time
    await s.call('POST', '/__sim/faults', { absurdReset: 1 });
    expect((await raw(s.sim.url, `/api/v1/users/${u.id}`)).status).toBe(200); // users bucket: not affected
    expect((await raw(s.sim.url, `/api/v1/users/${u.id}/factors`)).status).toBe(429);
    expect(s.sim.stats().faults).toMatchObject({ absurdResetLeft: 0, absurdResets: 3 });
  });
});

describe('echoToken', () => {
  test('error summaries carry the first 16 characters of the credential; successful answers do not', async () => {
    const token = '00abcdefghijklmnopqrstuvwxyz0123456789AB';
    const s = await sim({ echoToken: true });
    const nf = await raw(s.sim.url, '/api/v1/users/00uNOBODY00000000000', { token });
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.text).errorSummary).toContain(token.slice(0, 16));
    expect(nf.text).not.toContain(token.slice(0, 17));
    expect((await raw(s.sim.url, `/api/v1/users/${s.users[0]!.id}`, { token })).text).not.toContain(token.slice(0, 16));
    await s.call('POST', '/__sim/faults', { echoToken: false });
    expect((await raw(s.sim.url, '/api/v1/users/00uNOBODY00000000000', { token })).text).not.toContain(token.slice(0, 16));
  });
});

describe('duplicateRateLimitHeaders', () => {
  test('each X-Rate-Limit-* header twice, the second with a higher Limit and Remaining and an earlier Reset', async () => {
    const s = await sim({ duplicateRateLimitHeaders: true, rateLimit: 10, rateWindowMs: 60_000 });
    const r = await raw(s.sim.url, `/api/v1/users/${s.users[0]!.id}/factors`);
    const pair = (name: string) => {
      const v = r.headers[name];
      expect(Array.isArray(v), name).toBe(true);
      return (v as string[]).map(Number);
    };
    const [limit1, limit2] = pair('x-rate-limit-limit');
    const [rem1, rem2] = pair('x-rate-limit-remaining');
    const [reset1, reset2] = pair('x-rate-limit-reset');
    expect([limit1, rem1]).toEqual([10, 9]);
    expect(limit2!).toBeGreaterThan(limit1!);
    expect(rem2!).toBeGreaterThan(rem1!);
    expect(reset2!).toBeLessThan(reset1!);
  });
});

describe('clockOffsetMs', () => {
  test('Date, created, expiresAt, published and X-Rate-Limit-Reset follow the org\'s clock; /__sim/clock tells it', async () => {
    const HOUR = 3_600_000;
    const s = await sim({ usersCsv: csvFile('id,login,activation\n00uCLOCK00000000001,clock@example.com,30\n'), clockOffsetMs: -HOUR, rateWindowMs: 60_000 });
    const before = Date.now();
    const r = await raw(s.sim.url, '/api/v1/users/00uCLOCK00000000001/factors', { method: 'POST', body: PUSH });
    const body = JSON.parse(r.text);
    const near = (ms: number, expected: number, slack = 2000) => expect(Math.abs(ms - expected)).toBeLessThan(slack);
    near(Date.parse(String(r.headers.date)), before - HOUR);
    near(Date.parse(body.created), before - HOUR);
    expect(Date.parse(body._embedded.activation.expiresAt) - Date.parse(body.created)).toBe(600_000);
    near(Number(r.headers['x-rate-limit-reset']) * 1000, before - HOUR + 60_000);
    await sleep(60);
    near(Date.parse(s.sim.events()[0]!.published), before - HOUR);
    const clock = (await s.call('GET', '/__sim/clock')).body;
    expect(clock.offsetMs).toBe(-HOUR);
    near(Date.parse(clock.now), Date.now() - HOUR);
    expect(clock.nowMs).toBe(Date.parse(clock.now));
    // the offset changes at run time: the org's clock jumps
    expect((await s.call('POST', '/__sim/faults', { clockOffsetMs: 0 })).status).toBe(200);
    near(Date.parse(String((await raw(s.sim.url, '/api/v1/users/00uCLOCK00000000001')).headers.date)), Date.now());
    expect(s.sim.clock().offsetMs).toBe(0);
  });
});

describe('POST /__sim/faults', () => {
  test('changes faults at run time; invalid bodies are refused whole, with every problem named', async () => {
    const s = await sim();
    const u = s.users[0]!;
    const bad = await s.call('POST', '/__sim/faults', { errorRate: 2, hugeBodyCount: 3, clockOffsetMs: 'soon', nonsense: true });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual(['Expected one of `latencyMs`, `errorRate`, `resetRate`, `hugeBodyBytes`, `hugeBodyCount`, `hugeBodyRate`, `absurdReset`, `echoToken`, `duplicateRateLimitHeaders`, `clockOffsetMs`, got `nonsense`']);
    const bad2 = await s.call('POST', '/__sim/faults', { errorRate: 2, hugeBodyCount: 3, clockOffsetMs: 'soon' });
    expect(bad2.body.problems).toEqual(
      expect.arrayContaining([
        'Expected `errorRate` to be a number from 0 to 1, got `2`',
        'Expected `hugeBodyCount` to be set only with hugeBodyBytes, got `3`',
        'Expected `clockOffsetMs` to be an integer number of milliseconds, at most ten years either way, got `soon`',
      ]),
    );
    const state = (await s.call('GET', '/__sim/faults')).body;
    expect(state).toEqual({
      latencyMs: 0,
      errorRate: 0,
      resetRate: 0,
      absurdReset: 0,
      echoToken: false,
      duplicateRateLimitHeaders: false,
      clockOffsetMs: 0,
      absurdResetLeft: 0,
      hugeBodies: 0,
      absurdResets: 0,
    });
    const set = await s.call('POST', '/__sim/faults', { errorRate: 1 });
    expect(set.body.errorRate).toBe(1);
    expect((await s.call('GET', `/api/v1/users/${u.id}`)).body.errorCode).toBe('E0000009');
    await s.call('POST', '/__sim/faults', { errorRate: 0, latencyMs: [0, 0] });
    expect((await s.call('GET', `/api/v1/users/${u.id}`)).status).toBe(200);
    expect((await s.call('POST', '/__sim/faults', 'not json')).status).toBe(400);
    expect(thrown(() => s.sim.setFaults({ hugeBodyRate: 0.5, hugeBodyCount: 1, hugeBodyBytes: 10 }))).toMatchObject({
      problems: ['Expected `hugeBodyRate` to be left out when hugeBodyCount is set (one or the other), got `0.5`'],
    });
    expect(s.sim.setFaults({ latencyMs: 5 }).latencyMs).toBe(5);
  });
});
