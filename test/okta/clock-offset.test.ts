/**
 * Okta's clock minus ours from Date headers (whole seconds) and request timing: the
 * bounds always hold the true offset, they narrow to about the latency across answers,
 * a stepped clock is followed; then the client against real servers whose clocks are
 * skewed by a fraction of a second plus minutes, answering after a random delay, and
 * expiresAtMs on the local clock.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { ClockOffset } from '../../src/okta/clock-offset.js';
import { createOktaClient } from '../../src/okta/client.js';
import type { OktaClient } from '../../src/okta/types.js';
import { json, startCannedServer, type CannedServer } from './helpers/canned-server.js';

const U = '00u15s1KDETTQMQYABRL';

/** A Date header as a server whose clock is `offset` ahead of ours writes it at our time `t`. */
const dateAt = (t: number, offset: number): string => new Date(t + offset).toUTCString();

describe('ClockOffset (pure)', () => {
  it('is 0 before any Date, and ignores an unreadable one', () => {
    const c = new ClockOffset();
    expect(c.offsetMs).toBe(0);
    c.observe('not a date', 1000, 1010);
    c.observe(undefined, 1000, 1010);
    expect(c.offsetMs).toBe(0);
    expect(c.uncertaintyMs).toBe(Infinity);
  });

  it('one answer: the middle of the second the Date names, less the middle of the request', () => {
    const c = new ClockOffset();
    // sent at 10.000 s, answered at 10.100 s; the server said 20 s (its time was in [20, 21) s)
    c.observe(new Date(20_000).toUTCString(), 10_000, 10_100);
    expect(c.offsetMs).toBe(20_000 + 500 - 10_050);
    expect(c.uncertaintyMs).toBe(1100);
  });

  it('property: the bounds always hold the true offset and narrow to about the latency', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -3_600_000, max: 3_600_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 997 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })), { minLength: 40, maxLength: 60 }),
        (truth, steps) => {
          const c = new ClockOffset();
          let t = 1_700_000_000_000;
          for (const [gap, up, down] of steps) {
            t += gap + 37;
            const sent = t;
            const atServer = sent + up;
            const received = atServer + down;
            c.observe(dateAt(atServer, truth), sent, received);
            // the interval is [mid - u/2, mid + u/2]
            expect(Math.abs(c.offsetMs - truth)).toBeLessThanOrEqual(c.uncertaintyMs / 2 + 1);
            t = received;
          }
          // 40+ answers at scattered phases of the second: known to within the latency plus drift slack
          expect(Math.abs(c.offsetMs - truth)).toBeLessThanOrEqual(250);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('follows a clock that was stepped: an answer that contradicts the bounds starts them again', () => {
    const c = new ClockOffset();
    let t = 1_700_000_000_000;
    for (let i = 0; i < 30; i++, t += 137) c.observe(dateAt(t + 2, 5_250), t, t + 4);
    expect(Math.abs(c.offsetMs - 5_250)).toBeLessThan(100);
    // our clock is stepped back 8 s (NTP): the offset is now 13.25 s
    for (let i = 0; i < 30; i++, t += 137) c.observe(dateAt(t + 2, 13_250), t, t + 4);
    expect(Math.abs(c.offsetMs - 13_250)).toBeLessThan(100);
  });
});

describe('the client against servers with skewed clocks', () => {
  const servers: CannedServer[] = [];
  const clients: OktaClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function skewedOrg(skewMs: number): Promise<OktaClient> {
    const s = await startCannedServer((req, res) => {
      // a random delay before answering: the Date is written somewhere inside our request
      setTimeout(() => {
        const now = Date.now() + skewMs;
        const date = new Date(now).toUTCString();
        if (req.url.includes('/factors/'))
          return json(res, 200, { id: 'opf1', factorType: 'push', provider: 'OKTA', status: 'PENDING_ACTIVATION', _embedded: { activation: { expiresAt: new Date(now + 600_000).toISOString(), factorResult: 'WAITING' } } }, { date });
        json(res, 200, { id: U, status: 'ACTIVE', profile: { login: 'a@b.c' } }, { date });
      }, Math.floor(Math.random() * 25));
    });
    servers.push(s);
    const c = createOktaClient({ orgUrl: s.origin, auth: sswsAuth('00skewTestToken0000000000') });
    clients.push(c);
    return c;
  }

  async function learn(c: OktaClient): Promise<void> {
    for (let i = 0; i < 24; i++) {
      await c.getUser(U);
      await new Promise((r) => setTimeout(r, 31 + Math.floor(Math.random() * 30)));
    }
  }

  it('learns a skew of minutes plus a fraction of a second to well under the Date header\'s one second, and puts expiresAtMs on our clock', async () => {
    const ahead = 90_600;
    const behind = -47_300;
    const [a, b] = await Promise.all([skewedOrg(ahead), skewedOrg(behind)]);
    expect(a.clockOffsetMs()).toBe(0);
    await Promise.all([learn(a), learn(b)]);
    expect(Math.abs(a.clockOffsetMs() - ahead)).toBeLessThan(200);
    expect(Math.abs(b.clockOffsetMs() - behind)).toBeLessThan(200);
    // Okta says the activation expires in 10 minutes, on its clock
    const before = Date.now();
    const view = await a.getFactor(U, 'opf1');
    const after = Date.now();
    expect(view.expiresAtMs).toBeGreaterThan(before + 600_000 - 250);
    expect(view.expiresAtMs).toBeLessThan(after + 600_000 + 250);
    expect(Date.parse(view.expiresAt!) - view.expiresAtMs!).toBe(a.clockOffsetMs());
  });
});
