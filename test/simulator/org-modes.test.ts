/**
 * How one org differs from another, each behind an option: what activation events carry
 * (logDebugData, logTargets), a Multifactor policy that refuses a factor type, read-only
 * mode (at start and at run time), strict request bodies, Identity Engine's Okta Verify
 * bundle; and the per-user inspection chaos tests read.
 */
import { describe, expect, test } from 'vitest';
import { request } from 'undici';
import { csvFile, manualClock, sim, sleep } from './helpers.js';

const PUSH = { factorType: 'push', provider: 'OKTA' };
const scanner = (step: number | string) => csvFile(`id,login,activation\n00uMODE0000000000001,mode@example.com,${step}\n00uMODE0000000000002,two@example.com,never\n`);
const FACTORS = '/api/v1/users/00uMODE0000000000001/factors';

describe('System Log fidelity', () => {
  test('logDebugData off and logTargets user: the event names neither the factor type nor the factor; outcome stays', async () => {
    const s = await sim({ usersCsv: scanner(30), logDebugData: false, logTargets: 'user' });
    await s.call('POST', FACTORS, PUSH);
    await sleep(80);
    const until = encodeURIComponent(new Date(Date.now() + 1000).toISOString());
    const [event] = (await s.call('GET', `/api/v1/logs?until=${until}`)).body;
    expect(event.eventType).toBe('user.mfa.factor.activate');
    expect(event.outcome.result).toBe('SUCCESS');
    expect(event.target).toEqual([{ id: '00uMODE0000000000001', type: 'User', alternateId: 'mode@example.com', displayName: 'mode User', detailEntry: null }]);
    expect(event.debugContext.debugData).toEqual({});
    // defaults: debugData.factor and the AuthenticatorEnrollment whose id is the factor's
    const d = await sim({ usersCsv: scanner(30) });
    const enroll = await d.call('POST', FACTORS, PUSH);
    await sleep(80);
    const [e2] = d.sim.events();
    expect(e2!.debugContext.debugData).toEqual({ factor: 'push' });
    expect(e2!.target.map((t) => [t.type, t.id, t.displayName])).toEqual([
      ['User', '00uMODE0000000000001', 'mode User'],
      ['AuthenticatorEnrollment', enroll.body.id, 'Okta Verify'],
    ]);
    expect(e2!.transaction.id).not.toBe(enroll.body.id);
  });
});

describe('refuseFactorTypes', () => {
  test('an enroll of a refused type answers 400 E0000001 with the Identity Engine cause; nothing is created', async () => {
    const s = await sim({ usersCsv: scanner(30), refuseFactorTypes: ['push', 'sms'] });
    const r = await s.call('POST', FACTORS, PUSH);
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe('E0000001');
    expect(r.body.errorCauses).toEqual([{ errorSummary: 'Factor not allowed for the user based on the Multifactor policy' }]);
    expect((await s.call('GET', FACTORS)).body).toEqual([]);
    expect(s.sim.stats().enrollCalls).toBe(0);
    expect((await s.call('POST', FACTORS, { factorType: 'email', provider: 'OKTA' })).status).toBe(200);
  });
});

describe('read-only mode', () => {
  test('POST/PUT/DELETE answer 503 E0000010, GETs work; POST /__sim/read-only turns it off and on', async () => {
    const s = await sim({ usersCsv: scanner(30), readOnly: true });
    const r = await s.call('POST', FACTORS, PUSH);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ errorCode: 'E0000010', errorSummary: 'Service is in read only mode' });
    expect(r.headers['x-rate-limit-remaining']).toBeDefined();
    expect((await s.call('GET', FACTORS)).status).toBe(200);
    expect((await s.call('GET', '/api/v1/users/mode@example.com')).status).toBe(200);
    expect((await s.call('POST', '/__sim/read-only', { on: false })).body).toEqual({ on: false });
    const enroll = await s.call('POST', FACTORS, PUSH);
    expect(enroll.status).toBe(200);
    expect((await s.call('POST', '/__sim/read-only', { on: true })).body).toEqual({ on: true });
    expect((await s.call('DELETE', `${FACTORS}/${enroll.body.id}`)).body.errorCode).toBe('E0000010');
    expect((await s.call('GET', '/__sim/read-only')).body).toEqual({ on: true });
    expect(s.sim.stats().readOnly).toBe(true);
    expect((await s.call('POST', '/__sim/read-only', { on: 'yes' })).status).toBe(400);
  });
});

describe('strictBodies', () => {
  test('properties the spec does not define answer 400 E0000003; JSON under another Content-Type 415; defined ones pass', async () => {
    const s = await sim({ usersCsv: scanner(30), strictBodies: true });
    const top = await s.call('POST', FACTORS, { ...PUSH, deviceType: 'smartphone:ios' });
    expect(top.status).toBe(400);
    expect(top.body).toMatchObject({ errorCode: 'E0000003', errorSummary: 'The request body was not well-formed.' });
    expect(top.body.errorCauses[0].errorSummary).toMatch(/"deviceType"/);
    const nested = await s.call('POST', FACTORS, { ...PUSH, profile: { deviceName: 'x' } });
    expect(nested.body.errorCode).toBe('E0000003');
    expect(nested.body.errorCauses[0].errorSummary).toMatch(/"profile\.deviceName"/);
    expect((await s.call('POST', FACTORS, '{"factorType": ')).body.errorCode).toBe('E0000003');
    const res = await request(`${s.sim.url}${FACTORS}`, {
      method: 'POST',
      headers: { authorization: 'SSWS t', 'content-type': 'text/plain' },
      body: JSON.stringify(PUSH),
    });
    const body = (await res.body.json()) as { errorCode: string; errorSummary: string };
    expect(res.statusCode).toBe(415);
    expect(body).toMatchObject({ errorCode: 'E0000012', errorSummary: 'Unsupported media type' });
    expect(s.sim.factors()).toHaveLength(0);
    const sms = await s.call('POST', '/api/v1/users/00uMODE0000000000002/factors', { factorType: 'sms', provider: 'OKTA', profile: { phoneNumber: '+15555550100' } });
    expect(sms.status).toBe(200);
    expect((await s.call('POST', `/api/v1/users/00uMODE0000000000002/factors/${sms.body.id}/lifecycle/activate`, { passCode: '123456', extra: 1 })).body.errorCode).toBe('E0000003');
    const ok = await s.call('POST', FACTORS, { ...PUSH, status: 'PENDING_ACTIVATION' });
    expect(ok.status).toBe(200);
    expect((await s.follow('POST', ok.body._links.poll.href, {})).status).toBe(200);
  });
});

describe('oieBundle', () => {
  test('a push enroll adds totp and signed_nonce (PENDING), ACTIVE once scanned; deleting the push deletes them all', async () => {
    // the user scans only once an activation email reaches them: nothing happens behind the test's back
    const s = await sim({ usersCsv: scanner('after-delivery:20'), oieBundle: true });
    const enroll = await s.call('POST', FACTORS, PUSH);
    const pending = (await s.call('GET', FACTORS)).body as Array<{ factorType: string; status: string; id: string }>;
    expect(pending.map((f) => [f.factorType, f.status])).toEqual([
      ['push', 'PENDING_ACTIVATION'],
      ['token:software:totp', 'PENDING_ACTIVATION'],
      ['signed_nonce', 'PENDING_ACTIVATION'],
    ]);
    expect(s.sim.stats().enrollCalls).toBe(1);
    await s.follow('POST', enroll.body._embedded.activation._links.send[0].href);
    await sleep(80);
    const active = (await s.call('GET', FACTORS)).body as Array<{ status: string }>;
    expect(active.map((f) => f.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
    expect(s.sim.events().map((e) => e.debugContext.debugData.factor)).toEqual(['push', 'token:software:totp', 'signed_nonce']);
    // an email factor is not Okta Verify's and stays
    expect((await s.call('POST', FACTORS, { factorType: 'email', provider: 'OKTA' })).status).toBe(200);
    expect((await s.call('DELETE', `${FACTORS}/${enroll.body.id}`)).status).toBe(204);
    expect((await s.call('GET', FACTORS)).body.map((f: { factorType: string }) => f.factorType)).toEqual(['email']);
    // a push enroll that replaces a pending one: the bundle it left completes with the new push
    const r = await sim({ usersCsv: scanner(40), oieBundle: true, onDuplicate: 'replace' });
    await r.call('POST', FACTORS, PUSH);
    await r.call('POST', FACTORS, PUSH);
    await sleep(100);
    expect(r.sim.factors().map((f) => [f.factorType, f.status])).toEqual([
      ['token:software:totp', 'ACTIVE'],
      ['signed_nonce', 'ACTIVE'],
      ['push', 'ACTIVE'],
    ]);
    // without the bundle a push enroll is only a push, and deleting it deletes only it
    const plain = await sim({ usersCsv: scanner(40) });
    await plain.call('POST', FACTORS, PUSH);
    expect(plain.sim.factors().map((f) => f.factorType)).toEqual(['push']);
  });
});

describe('inspection', () => {
  test('/__sim/user-factors: per user, every factor\'s status and attempts; duplicateEnrollments counts users with two of a type', async () => {
    const clock = manualClock(1_700_000_000_000);
    const s = await sim({ usersCsv: scanner(30), onDuplicate: 'allow', activationTtlMs: 400, clock });
    const a = await s.call('POST', FACTORS, PUSH);
    await s.call('POST', FACTORS, PUSH);
    const b = await s.call('POST', '/api/v1/users/00uMODE0000000000002/factors', PUSH);
    clock.advance(400);
    await s.call('POST', `/api/v1/users/00uMODE0000000000002/factors/${b.body.id}/lifecycle/activate`);
    const view = (await s.call('GET', '/__sim/user-factors')).body;
    expect(view).toHaveLength(2);
    expect(view[0]).toMatchObject({ userId: '00uMODE0000000000001', login: 'mode@example.com', status: 'ACTIVE', duplicateTypes: ['push'] });
    expect(view[0].factors.map((f: { factorId: string; status: string; attempts: number }) => [f.status, f.attempts])).toEqual([
      ['ACTIVE', 1],
      ['ACTIVE', 1],
    ]);
    expect(view[0].factors[0].factorId).toBe(a.body.id);
    expect(view[1]).toMatchObject({ userId: '00uMODE0000000000002', duplicateTypes: [] });
    expect(view[1].factors[0]).toMatchObject({ status: 'PENDING_ACTIVATION', factorResult: 'WAITING', attempts: 2, origin: 'enroll' });
    expect((await s.call('GET', '/__sim/stats')).body.duplicateEnrollments).toBe(1);
    expect((await s.call('GET', '/__sim/factors?userId=00uMODE0000000000002')).body).toHaveLength(1);
    expect((await s.call('GET', '/__sim/user-factors?userId=00uMODE0000000000002')).body).toHaveLength(1);
    const fresh = await sim({ usersCsv: scanner(30) });
    expect((await fresh.call('GET', '/__sim/user-factors')).body).toEqual([]);
    expect((await fresh.call('GET', '/__sim/user-factors?all=true')).body.map((u: { factors: unknown[] }) => u.factors)).toEqual([[], []]);
  });
});
