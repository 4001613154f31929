/**
 * The seed dialect against the seed document itself (test/simulator/fixtures, a copy of
 * ../shared/okta/seed-push-factor-api.txt): same status, Location, field names, nesting
 * and value kinds, for the enroll answer and the three poll answers.
 */
import { describe, expect, test } from 'vitest';
import { csvFile, seedBlocks, seedEnrollHead, shape, sim, sleep, unpad } from './helpers.js';

const RAIN = 'http://rain.okta1.com:1802';

describe('seed dialect', () => {
  const [request, enrollDoc, pendingDoc, activatedDoc, expiredDoc] = seedBlocks();

  test('the seed request answers 301 with Location and the seed body shape, links on --link-base', async () => {
    const s = await sim({ dialect: 'seed', linkBase: RAIN });
    const user = s.users[0]!;
    // The seed's request as printed (padding included), sent verbatim apart from the user id.
    const res = await s.call('POST', `/api/v1/users/${user.id}/factors`, request);
    expect(res.status).toBe(seedEnrollHead().status);
    expect(res.status).toBe(301);
    expect(shape(res.body)).toEqual(shape(enrollDoc));
    const body = res.body;
    expect(res.headers.location).toBe(body._links.self.href);
    expect(res.headers.location).toMatch(new RegExp(`^${RAIN}/api/v1/users/${user.id}/factors/${body.id}$`));
    expect(new URL(seedEnrollHead().location).pathname).toMatch(/^\/api\/v1\/users\/[^/]+\/factors\/[^/]+$/);
    const doc = unpad(enrollDoc) as typeof body;
    expect(body.status).toBe(doc.status);
    expect(body.factorType).toBe(doc.factorType);
    expect(body.activated).toBe('null');
    expect(body.lastVerification).toBe('null');
    expect(body.profile).toEqual({ deviceName: 'My iPhone' });
    expect(body._links.next.name).toBe(doc._links.next.name);
    for (const rel of ['next', 'self', 'poll', 'user', 'provider']) {
      expect(body._links[rel].hints.allow).toEqual(doc._links[rel].hints.allow);
      expect(body._links[rel].href.startsWith(RAIN)).toBe(true);
    }
    expect(body._links.provider.href).toBe(`${RAIN}/api/v1/factors/providers/duo`);
    expect(Date.parse(body.expiresAt) - Date.parse(body.created)).toBe(600_000);
    expect(typeof body._embedded.install.appStore).toBe('string');
    expect(typeof body._embedded.install.barcode).toBe('string');
  });

  test('GET polling: pending, then ACTIVATED with a deactivate link, as the seed shows', async () => {
    const users = csvFile('id,login,activation\n00uSCAN0000000000001,scan@example.com,400\n');
    const s = await sim({ dialect: 'seed', usersCsv: users });
    const enroll = await s.call('POST', '/api/v1/users/00uSCAN0000000000001/factors', { factorType: 'push', provider: 'duo', profile: { deviceName: 'Phone' } });
    expect(enroll.status).toBe(301);
    const poll = enroll.body._links.poll;
    expect(poll.hints.allow).toEqual(['GET']);
    const pending = await s.follow('GET', poll.href);
    expect(pending.status).toBe(200);
    expect(shape(pending.body)).toEqual(shape(pendingDoc));
    expect(pending.body._embedded).toBeUndefined();
    await sleep(470);
    const done = await s.follow('GET', poll.href);
    expect(shape(done.body)).toEqual(shape(activatedDoc));
    expect(done.body.status).toBe('ACTIVATED');
    expect(done.body._links.deactivate.hints.allow).toEqual(['POST']);
    expect(done.body.activated).not.toBe('null');
    expect(Date.parse(done.body.activated) - Date.parse(done.body.created)).toBe(400);
  });

  test('a user who never scans: EXPIRED with an activate link and an expired timestamp', async () => {
    const users = csvFile('id,login,activation\n00uNEVER000000000001,never@example.com,never\n');
    const s = await sim({ dialect: 'seed', usersCsv: users, activationTtlMs: 200 });
    const enroll = await s.call('POST', '/api/v1/users/00uNEVER000000000001/factors', { factorType: 'push', provider: 'duo', profile: { deviceName: 'Phone' } });
    await sleep(260);
    const res = await s.follow('GET', enroll.body._links.poll.href);
    expect(shape(res.body)).toEqual(shape(expiredDoc));
    expect(res.body.status).toBe('EXPIRED');
    expect(res.body.lastVerification).toBeNull();
    expect(res.body.expired).toBe(enroll.body.expiresAt);
    expect(res.body._links.activate.hints.allow).toEqual(['POST']);
    // the activate link restarts the activation (seed shape again, new expiresAt)
    const again = await s.follow('POST', res.body._links.activate.href);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('PENDING_ACTIVATION');
    expect(Date.parse(again.body.expiresAt)).toBeGreaterThan(Date.parse(enroll.body.expiresAt));
  });

  test('provider OKTA is accepted, others are not; the POST poll link of today does not exist', async () => {
    const s = await sim({ dialect: 'seed' });
    const [a, b] = s.users;
    const ok = await s.call('POST', `/api/v1/users/${a!.id}/factors`, { factorType: 'push', provider: 'OKTA' });
    expect(ok.status).toBe(301);
    const bad = await s.call('POST', `/api/v1/users/${b!.id}/factors`, { factorType: 'push', provider: 'GOOGLE' });
    expect(bad.status).toBe(400);
    expect(bad.body.errorCode).toBe('E0000001');
    const poll = await s.call('POST', `/api/v1/users/${a!.id}/factors/${ok.body.id}/lifecycle/activate/poll`);
    expect(poll.status).toBe(404);
    const del = await s.call('DELETE', `/api/v1/users/${a!.id}/factors/${ok.body.id}`);
    expect(del.status).toBe(204);
  });
});
