/**
 * The push activation lifecycle on scaled time: scans and expiries per the users
 * file's `activation` column, restarts through lifecycle/activate (5 per factor per
 * window, else 429 for that factor only), activation links sent by email / SMS
 * (one SMS per phone per interval), and `after-delivery:<ms>` users.
 */
import { describe, expect, test } from 'vitest';
import { csvFile, eventually, sim, sleep } from './helpers.js';


describe('activation lifecycle', () => {
  test('each attempt follows the next activation entry; the last one repeats', async () => {
    const file = csvFile('id,login,activation\n00uRETRY000000000001,retry@example.com,never;300\n');
    const s = await sim({ usersCsv: file, activationTtlMs: 450 });
    const base = '/api/v1/users/00uRETRY000000000001/factors';
    const enroll = await s.call('POST', base, { factorType: 'push', provider: 'OKTA' });
    await sleep(500);
    const timeout = await s.follow('POST', enroll.body._links.poll.href);
    expect(timeout.body.factorResult).toBe('TIMEOUT');
    const restart = await s.follow('POST', timeout.body._links.activate.href);
    expect(restart.status).toBe(200);
    expect(restart.body.status).toBe('PENDING_ACTIVATION');
    expect(restart.body._embedded.activation.factorResult).toBe('WAITING');
    expect(restart.body._embedded.activation._links.qrcode.href).not.toBe(enroll.body._embedded.activation._links.qrcode.href);
    // the old QR code no longer works, the new one does
    expect((await s.follow('GET', enroll.body._embedded.activation._links.qrcode.href)).status).toBe(404);
    expect((await s.follow('GET', restart.body._embedded.activation._links.qrcode.href)).status).toBe(200);
    const active = await eventually(async () => {
      const r = await s.follow('POST', restart.body._links.poll.href);
      return r.body.status === 'ACTIVE' ? r : undefined;
    }, 2000);
    expect(active.body.id).toBe(enroll.body.id);
    expect(s.sim.activateCalls().map((c) => [c.attempt, c.result])).toEqual([[2, 'restarted']]);
    expect(s.sim.factors()[0]!.attempts).toBe(2);
  });

  test('a scan after the activation expired does not count', async () => {
    const file = csvFile('id,login,activation\n00uLATE0000000000001,late@example.com,200\n');
    const s = await sim({ usersCsv: file, activationTtlMs: 100 });
    const enroll = await s.call('POST', '/api/v1/users/00uLATE0000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    await sleep(260);
    expect((await s.follow('POST', enroll.body._links.poll.href)).body.factorResult).toBe('TIMEOUT');
    expect(s.sim.events()).toHaveLength(0);
  });

  test('5 activation attempts per factor per window, then 429 E0000047 for that factor only', async () => {
    const file = csvFile('id,login,activation\n00uA00000000000000001,a@example.com,never\n00uB00000000000000001,b@example.com,never\n');
    const s = await sim({ usersCsv: file, activationTtlMs: 20, activationAttemptWindowMs: 60_000 });
    const a = await s.call('POST', '/api/v1/users/00uA00000000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const b = await s.call('POST', '/api/v1/users/00uB00000000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const activateA = `/api/v1/users/00uA00000000000000001/factors/${a.body.id}/lifecycle/activate`;
    for (let i = 0; i < 5; i++) {
      await sleep(30);
      expect((await s.call('POST', activateA)).status).toBe(200);
    }
    await sleep(30);
    const refused = await s.call('POST', activateA);
    expect(refused.status).toBe(429);
    expect(refused.body.errorCode).toBe('E0000047');
    expect(Number(refused.headers['x-rate-limit-remaining'])).toBeGreaterThan(0); // the bucket is not empty
    const other = await s.call('POST', `/api/v1/users/00uB00000000000000001/factors/${b.body.id}/lifecycle/activate`);
    expect(other.status).toBe(200);
    const calls = s.sim.activateCalls();
    expect(calls.filter((c) => c.factorId === a.body.id).map((c) => c.result)).toEqual([...Array(5).fill('restarted'), 'rate-limited']);
    expect(s.sim.stats().rateLimitedBy.resource).toBe(1);
    const http = await s.call('GET', '/__sim/activations');
    expect(http.body).toHaveLength(7);
    expect(Object.keys(http.body[0]).sort()).toEqual(['at', 'atMs', 'attempt', 'factorId', 'result', 'userId']);
  });

  test('the System Log gets user.mfa.factor.activate when a user scans', async () => {
    const file = csvFile('id,login,activation\n00uSCAN0000000000001,scan@example.com,50\n');
    const s = await sim({ usersCsv: file });
    const enroll = await s.call('POST', '/api/v1/users/00uSCAN0000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    await sleep(120);
    const events = s.sim.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      eventType: 'user.mfa.factor.activate',
      actor: { id: '00uSCAN0000000000001', type: 'User', alternateId: 'scan@example.com' },
      target: [
        { id: '00uSCAN0000000000001', type: 'User', alternateId: 'scan@example.com' },
        { id: enroll.body.id, type: 'AuthenticatorEnrollment', displayName: 'Okta Verify' },
      ],
      outcome: { result: 'SUCCESS' },
      debugContext: { debugData: { factor: 'push' } },
    });
    expect(Date.parse(events[0]!.published) - Date.parse(enroll.body.created)).toBe(50);
  });
});

describe('activation links sent by email / SMS', () => {
  test('send links record deliveries; an after-delivery user scans after the delivery, not before', async () => {
    const file = csvFile('id,login,activation,phone\n00uMAIL0000000000001,mail@example.com,after-delivery:300,+15550000001\n00uNOSEND00000000001,nosend@example.com,after-delivery:10,\n');
    const s = await sim({ usersCsv: file });
    const a = await s.call('POST', '/api/v1/users/00uMAIL0000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const b = await s.call('POST', '/api/v1/users/00uNOSEND00000000001/factors', { factorType: 'push', provider: 'OKTA' });
    await sleep(150);
    expect((await s.follow('POST', a.body._links.poll.href)).body.factorResult).toBe('WAITING');
    const email = a.body._embedded.activation._links.send.find((l: { name: string }) => l.name === 'email');
    const sent = await s.follow('POST', email.href);
    expect(sent.status).toBe(200);
    expect(sent.body.status).toBe('PENDING_ACTIVATION');
    expect(sent.body._embedded.activation.factorResult).toBe('WAITING');
    const deliveries = (await s.call('GET', '/__sim/deliveries')).body;
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ userId: '00uMAIL0000000000001', factorId: a.body.id, channel: 'email', to: 'mail@example.com' });
    expect((await s.follow('POST', a.body._links.poll.href)).body.factorResult).toBe('WAITING');
    await sleep(350);
    expect((await s.follow('POST', a.body._links.poll.href)).body.status).toBe('ACTIVE');
    const activated = Date.parse(s.sim.events()[0]!.published);
    expect(activated - deliveries[0].atMs).toBe(300);
    // without a delivery the other user never scans
    expect((await s.follow('POST', b.body._links.poll.href)).body.factorResult).toBe('WAITING');
  });

  test('one SMS per phone number per interval: 429 E0000109, the bucket is not empty', async () => {
    const file = csvFile('id,login,phone\n00uSMS00000000000001,sms@example.com,+15550000002\n00uNOPHONE0000000001,nophone@example.com,\n');
    const s = await sim({ usersCsv: file, smsIntervalMs: 200 });
    const a = await s.call('POST', '/api/v1/users/00uSMS00000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const smsHref = a.body._embedded.activation._links.send.find((l: { name: string }) => l.name === 'sms').href;
    expect((await s.follow('POST', smsHref)).status).toBe(200);
    const again = await s.follow('POST', smsHref);
    expect(again.status).toBe(429);
    expect(again.body.errorCode).toBe('E0000109');
    expect(Number(again.headers['x-rate-limit-remaining'])).toBeGreaterThan(0);
    await sleep(220);
    expect((await s.follow('POST', smsHref)).status).toBe(200);
    expect(s.sim.deliveries().map((d) => [d.channel, d.to])).toEqual([
      ['sms', '+15550000002'],
      ['sms', '+15550000002'],
    ]);
    // no phone in the directory and none in the request: 400
    const b = await s.call('POST', '/api/v1/users/00uNOPHONE0000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const bSms = `/api/v1/users/00uNOPHONE0000000001/factors/${b.body.id}/lifecycle/activate/sms`;
    expect((await s.call('POST', bSms)).status).toBe(400);
    expect((await s.call('POST', bSms, { profile: { phoneNumber: '+15550000003' } })).status).toBe(200);
  });
});
