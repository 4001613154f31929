/**
 * The answer shapes real orgs use beside the spec's, each behind an option in today's
 * dialect: how a pending push is listed (listShape), what lifecycle/activate answers
 * (restartShape), where the poll link points (pollLink), and activations that end
 * CANCELLED or ERROR (the users file's `cancel:<ms>` / `error:<ms>` steps).
 */
import { describe, expect, test } from 'vitest';
import { csvFile, manualClock, shape, sim, sleep } from './helpers.js';

const PUSH = { factorType: 'push', provider: 'OKTA' };
const user = (activation: string) => csvFile(`id,login,activation\n00uSHAPE000000000001,shape@example.com,${activation}\n`);
const FACTORS = '/api/v1/users/00uSHAPE000000000001/factors';

describe('listShape', () => {
  test('pending-next: a pending push is listed as the spec\'s listFactors example, valid or expired alike', async () => {
    const s = await sim({ usersCsv: user('never'), activationTtlMs: 150, listShape: 'pending-next' });
    const enroll = await s.call('POST', FACTORS, PUSH);
    expect(enroll.body._links.poll.href).toMatch(/\/lifecycle\/activate\/poll$/); // the enroll answer keeps today's shape
    const self = `${s.sim.url}${FACTORS}/${enroll.body.id}`;
    const expected = {
      id: enroll.body.id,
      status: 'PENDING_ACTIVATION',
      _links: {
        next: { name: 'activate', href: `${self}/lifecycle/activate`, hints: { allow: ['POST'] } },
        self: { href: self, hints: { allow: ['GET'] } },
        user: { href: `${s.sim.url}/api/v1/users/00uSHAPE000000000001`, hints: { allow: ['GET'] } },
      },
    };
    const valid = await s.call('GET', FACTORS);
    expect(valid.body).toHaveLength(1);
    expect(valid.body[0]).toMatchObject(expected);
    expect(valid.body[0]._embedded).toBeUndefined();
    expect(Object.keys(valid.body[0]._links).sort()).toEqual(['next', 'self', 'user']);
    await sleep(200);
    const expired = await s.call('GET', `${FACTORS}/${enroll.body.id}`);
    expect(expired.body).toMatchObject(expected);
    expect(Object.keys(expired.body._links).sort()).toEqual(['next', 'self', 'user']);
    // expiry is told only by polling or activating
    expect((await s.follow('POST', enroll.body._links.poll.href)).body.factorResult).toBe('TIMEOUT');
    expect(s.sim.factors()[0]).toMatchObject({ status: 'EXPIRED', factorResult: 'TIMEOUT' });
    const restarted = await s.follow('POST', expired.body._links.next.href);
    expect(restarted.status).toBe(200);
    expect(restarted.body._embedded.activation.factorResult).toBe('WAITING');
  });

  test('pending-activate: the same with _links.activate; the default lists EXPIRED', async () => {
    const s = await sim({ usersCsv: user('never'), activationTtlMs: 100, listShape: 'pending-activate' });
    const enroll = await s.call('POST', FACTORS, PUSH);
    await sleep(150);
    const got = await s.call('GET', `${FACTORS}/${enroll.body.id}`);
    expect(got.body.status).toBe('PENDING_ACTIVATION');
    expect(Object.keys(got.body._links).sort()).toEqual(['activate', 'self', 'user']);
    expect(got.body._links.activate).toEqual({ href: `${s.sim.url}${FACTORS}/${enroll.body.id}/lifecycle/activate`, hints: { allow: ['POST'] } });
    const today = await sim({ usersCsv: user('never'), activationTtlMs: 100 });
    const e2 = await today.call('POST', FACTORS, PUSH);
    await sleep(150);
    expect((await today.call('GET', `${FACTORS}/${e2.body.id}`)).body.status).toBe('EXPIRED');
  });
});

describe('restartShape activation', () => {
  test('lifecycle/activate answers the Push Factor Activation object alone, as the archived reference shows', async () => {
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ usersCsv: user('never'), activationTtlMs: 300, restartShape: 'activation', clock });
    const enroll = await s.call('POST', FACTORS, PUSH);
    clock.advance(300);
    const self = `${s.sim.url}${FACTORS}/${enroll.body.id}`;
    const restart = await s.call('POST', `${FACTORS}/${enroll.body.id}/lifecycle/activate`);
    expect(restart.status).toBe(200);
    expect(restart.body.id).toBeUndefined();
    expect(restart.body._embedded).toBeUndefined();
    expect(Object.keys(restart.body).sort()).toEqual(['_links', 'expiresAt', 'factorResult']);
    expect(restart.body.factorResult).toBe('WAITING');
    expect(Object.keys(restart.body._links)).toEqual(['poll', 'qrcode', 'send']);
    expect(restart.body._links.poll).toEqual({ href: `${self}/lifecycle/activate`, hints: { allow: ['POST'] } });
    expect(restart.body._links.qrcode.type).toBe('image/png');
    expect(restart.body._links.send.map((l: { name: string }) => l.name)).toEqual(['email', 'sms']);
    expect((await s.follow('GET', restart.body._links.qrcode.href)).status).toBe(200);
    expect(s.sim.factors()[0]!.attempts).toBe(2);
    // once the user scanned (40 ms into the second attempt), the same call answers the ACTIVE factor
    const s2 = await sim({ usersCsv: user('never;40'), activationTtlMs: 100, restartShape: 'activation', clock });
    const e2 = await s2.call('POST', FACTORS, PUSH);
    clock.advance(100);
    const r2 = await s2.call('POST', `${FACTORS}/${e2.body.id}/lifecycle/activate`);
    clock.advance(40);
    const active = await s2.follow('POST', r2.body._links.poll.href);
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({ id: e2.body.id, status: 'ACTIVE', factorType: 'push' });
    expect(s2.sim.activateCalls().map((c) => c.result)).toEqual(['restarted', 'already-active']);
  });
});

describe('pollLink activate', () => {
  test('the poll link is lifecycle/activate: WAITING with the same expiresAt, counted toward 5 per window, then 429 for that factor', async () => {
    const s = await sim({ usersCsv: user('never'), activationTtlMs: 60_000, pollLink: 'activate' });
    const enroll = await s.call('POST', FACTORS, PUSH);
    const poll = enroll.body._links.poll.href;
    expect(poll).toBe(`${s.sim.url}${FACTORS}/${enroll.body.id}/lifecycle/activate`);
    expect(enroll.body._embedded.activation.factorResult).toBe('WAITING');
    for (let i = 0; i < 5; i++) {
      const r = await s.follow('POST', poll);
      expect(r.status).toBe(200);
      expect(r.body._embedded.activation.expiresAt).toBe(enroll.body._embedded.activation.expiresAt);
    }
    const refused = await s.follow('POST', poll);
    expect(refused.status).toBe(429);
    expect(refused.body.errorCode).toBe('E0000047');
    expect(Number(refused.headers['x-rate-limit-remaining'])).toBeGreaterThan(0);
    expect(s.sim.factors()[0]!.attempts).toBe(1);
    expect(s.sim.activateCalls().map((c) => c.result)).toEqual([...Array(5).fill('waiting'), 'rate-limited']);
  });

  test('on an expired activation it starts a new one (new expiresAt, attempts + 1) in the restart shape', async () => {
    const s = await sim({ usersCsv: user('never'), activationTtlMs: 100, pollLink: 'activate', restartShape: 'activation' });
    const enroll = await s.call('POST', FACTORS, PUSH);
    await sleep(130);
    const r = await s.follow('POST', enroll.body._links.poll.href);
    expect(r.body.factorResult).toBe('WAITING');
    expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.parse(enroll.body._embedded.activation.expiresAt));
    expect(s.sim.factors()[0]!.attempts).toBe(2);
  });
});

describe('activations that end CANCELLED or ERROR', () => {
  test('cancel:<ms> and error:<ms>: polls and activate calls answer the result, the factor stays PENDING_ACTIVATION', async () => {
    const file = csvFile('id,login,activation\n00uCANCEL00000000001,c@example.com,cancel:300\n00uERROR000000000001,e@example.com,error:300\n');
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ usersCsv: file, activationTtlMs: 60_000, clock });
    const c = await s.call('POST', '/api/v1/users/00uCANCEL00000000001/factors', PUSH);
    const e = await s.call('POST', '/api/v1/users/00uERROR000000000001/factors', PUSH);
    clock.advance(299);
    expect((await s.follow('POST', c.body._links.poll.href)).body.factorResult).toBe('WAITING');
    clock.advance(1);
    const cancelled = await s.follow('POST', c.body._links.poll.href);
    expect(cancelled.body).toMatchObject({ factorResult: 'CANCELLED', expiresAt: c.body._embedded.activation.expiresAt });
    expect(cancelled.body._links.activate.href).toMatch(/\/lifecycle\/activate$/);
    expect((await s.follow('POST', e.body._links.poll.href)).body.factorResult).toBe('ERROR');
    const activate = await s.call('POST', `/api/v1/users/00uCANCEL00000000001/factors/${c.body.id}/lifecycle/activate`);
    expect(activate.status).toBe(200);
    expect(activate.body.status).toBe('PENDING_ACTIVATION');
    expect(activate.body._embedded.activation.factorResult).toBe('CANCELLED');
    expect(shape(activate.body._embedded.activation)).toEqual(shape({ expiresAt: '', factorResult: '' }));
    expect((await s.call('GET', `/api/v1/users/00uERROR000000000001/factors/${e.body.id}`)).body.status).toBe('PENDING_ACTIVATION');
    expect((await s.follow('GET', c.body._embedded.activation._links.qrcode.href)).status).toBe(404);
    expect(s.sim.factors().map((f) => [f.status, f.factorResult, f.attempts])).toEqual([
      ['PENDING_ACTIVATION', 'CANCELLED', 1],
      ['PENDING_ACTIVATION', 'ERROR', 1],
    ]);
  });
});
