/**
 * Today's dialect against the spec excerpt's examples (test/simulator/fixtures, a copy
 * of ../shared/okta/factors-openapi-excerpt.yaml): field names, nesting, value kinds;
 * Okta's error object for every error; the headers every answer carries.
 */
import { describe, expect, test } from 'vitest';
import { csvFile, shape, sim, sleep, specExample } from './helpers.js';

const ERROR_SHAPE = shape({ errorCode: '', errorSummary: '', errorLink: '', errorId: '', errorCauses: [{ errorSummary: '' }] });
const errorShape = (body: unknown) => shape({ ...(body as object), errorCauses: [{ errorSummary: '' }] });

describe('okta dialect: factor shapes', () => {
  test('push enroll answers 200 as EnrollFactorOVPushResponse, poll link takes POST', async () => {
    const s = await sim();
    const u = s.users[0]!;
    const res = await s.call('POST', `/api/v1/users/${u.id}/factors`, specExample('EnrollFactorOVPushRequest'));
    expect(res.status).toBe(200);
    expect(shape(res.body)).toEqual(shape(specExample('EnrollFactorOVPushResponse')));
    expect(res.body.status).toBe('PENDING_ACTIVATION');
    expect(res.body.id).toMatch(/^opf[A-Za-z0-9]{17}$/);
    expect(res.body._embedded.activation.factorResult).toBe('WAITING');
    expect(res.body._links.poll.href).toBe(`${s.sim.url}/api/v1/users/${u.id}/factors/${res.body.id}/lifecycle/activate/poll`);
    expect(res.body._links.poll.hints.allow).toEqual(['POST']);
    expect(res.body._embedded.activation._links.send.map((l: { name: string }) => l.name)).toEqual(['email', 'sms']);
    expect(Date.parse(res.body._embedded.activation.expiresAt) - Date.parse(res.body.created)).toBe(600_000);
    const qr = await s.follow('GET', res.body._embedded.activation._links.qrcode.href);
    expect(qr.status).toBe(200);
    expect(qr.headers['content-type']).toBe('image/png');
  });

  test('sms, call, email and totp enroll answers match their spec examples', async () => {
    const s = await sim();
    const cases: Array<[string, string, string]> = [
      ['EnrollFactorSmsRequest', 'EnrollFactorSmsResponse', 'mbl'],
      ['EnrollFactorCallRequest', 'EnrollFactorCallResponse', 'clf'],
      ['EnrollFactorOVTotpRequest', 'EnrollFactorOVTotpResponse', 'ost'],
    ];
    for (const [i, [req, resp, prefix]] of cases.entries()) {
      const res = await s.call('POST', `/api/v1/users/${s.users[i]!.id}/factors`, specExample(req));
      expect(res.status, req).toBe(200);
      expect(shape(res.body), resp).toEqual(shape(specExample(resp)));
      expect(res.body.id.startsWith(prefix)).toBe(true);
    }
    // The email example omits created/lastUpdated; the simulator adds them (every other example has them).
    const email = await s.call('POST', `/api/v1/users/${s.users[5]!.id}/factors`, specExample('EnrollFactorEmailRequest'));
    const { created, lastUpdated, profile, ...rest } = email.body;
    expect(typeof created).toBe('string');
    expect(typeof lastUpdated).toBe('string');
    expect(profile).toEqual({ email: 'test@gmail.com' });
    const { profile: _p, ...exampleRest } = specExample('EnrollFactorEmailResponse') as Record<string, unknown>;
    expect(shape(rest)).toEqual(shape(exampleRest));
  });

  test('poll: WAITING (UserFactorActivatePush), then the ACTIVE factor as ActivateFactorPushResponse', async () => {
    const users = csvFile('id,login,activation\n00uSCAN0000000000001,scan@example.com,400\n');
    const s = await sim({ usersCsv: users });
    const enroll = await s.call('POST', '/api/v1/users/00uSCAN0000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    const waiting = await s.follow('POST', enroll.body._links.poll.href);
    expect(waiting.status).toBe(200);
    expect(waiting.body.factorResult).toBe('WAITING');
    expect(waiting.body.expiresAt).toBe(enroll.body._embedded.activation.expiresAt);
    expect(waiting.body._links.poll.hints.allow).toEqual(['POST']);
    expect(waiting.body.status).toBeUndefined();
    const got = await s.call('GET', `/api/v1/users/00uSCAN0000000000001/factors/${enroll.body.id}`);
    expect(got.body.status).toBe('PENDING_ACTIVATION');
    expect(got.body._embedded).toBeUndefined(); // activation material only where the spec shows it
    await sleep(470);
    const active = await s.follow('POST', enroll.body._links.poll.href);
    expect(active.body.status).toBe('ACTIVE');
    expect(shape(active.body)).toEqual(shape(specExample('ActivateFactorPushResponse')));
    const list = await s.call('GET', '/api/v1/users/00uSCAN0000000000001/factors');
    expect(list.body).toHaveLength(1);
    expect(list.body[0].status).toBe('ACTIVE');
    expect(list.body[0]._links.self.hints.allow).toEqual(['GET', 'DELETE']);
  });

  test('poll after the activation expired: TIMEOUT with an activate link; GET says EXPIRED', async () => {
    const users = csvFile('id,login,activation\n00uNEVER000000000001,never@example.com,never\n');
    const s = await sim({ usersCsv: users, activationTtlMs: 150 });
    const enroll = await s.call('POST', '/api/v1/users/00uNEVER000000000001/factors', { factorType: 'push', provider: 'OKTA' });
    await sleep(200);
    const res = await s.follow('POST', enroll.body._links.poll.href);
    expect(res.body).toEqual({
      factorResult: 'TIMEOUT',
      _links: { activate: { href: `${s.sim.url}/api/v1/users/00uNEVER000000000001/factors/${enroll.body.id}/lifecycle/activate`, hints: { allow: ['POST'] } } },
    });
    const got = await s.call('GET', `/api/v1/users/00uNEVER000000000001/factors/${enroll.body.id}`);
    expect(got.body.status).toBe('EXPIRED');
    expect(s.sim.factors()[0]!.status).toBe('EXPIRED');
    const qr = await s.follow('GET', enroll.body._embedded.activation._links.qrcode.href);
    expect(qr.status).toBe(404);
  });

  test('DELETE answers 204 and the factor is gone; push + DUO is refused; unknown fields are ignored', async () => {
    const s = await sim();
    const u = s.users[0]!;
    const res = await s.call('POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push', provider: 'OKTA', deviceType: 'smartphone:ios', profile: { deviceName: 'x' }, extra: 1 });
    expect(res.status).toBe(200);
    expect(res.body.profile).toBeUndefined();
    const del = await s.call('DELETE', `/api/v1/users/${u.id}/factors/${res.body.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBe('');
    expect((await s.call('GET', `/api/v1/users/${u.id}/factors/${res.body.id}`)).status).toBe(404);
    const duo = await s.call('POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push', provider: 'DUO' });
    expect(duo.status).toBe(400);
    expect(duo.body.errorCode).toBe('E0000001');
  });
});

describe('okta dialect: errors and headers', () => {
  test('every error is an Okta error object with the right code', async () => {
    const s = await sim({ token: 'secret-token' });
    const u = s.users[0]!;
    const auth = { authorization: 'SSWS secret-token' };
    const cases: Array<[string, string, unknown, Record<string, string>, number, string]> = [
      ['POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push' }, {}, 401, 'E0000011'],
      ['POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push' }, { authorization: 'SSWS wrong' }, 401, 'E0000011'],
      ['POST', `/api/v1/users/${u.id}/factors`, { factorType: 'push' }, { authorization: 'Bearer secret-token' }, 401, 'E0000011'],
      ['POST', '/api/v1/users/00uNOBODY00000000000/factors', { factorType: 'push' }, auth, 404, 'E0000007'],
      ['POST', `/api/v1/users/${u.id}/factors`, '{"factorType": ', auth, 400, 'E0000001'],
      ['POST', `/api/v1/users/${u.id}/factors`, { provider: 'OKTA' }, auth, 400, 'E0000001'],
      ['POST', `/api/v1/users/${u.id}/factors`, { factorType: 'sms', provider: 'OKTA' }, auth, 400, 'E0000001'],
      ['GET', `/api/v1/users/${u.id}/factors/opfNOTHERE0000000000`, undefined, auth, 404, 'E0000007'],
      ['GET', '/api/v1/nowhere', undefined, auth, 404, 'E0000007'],
      ['PUT', `/api/v1/users/${u.id}/factors`, undefined, auth, 405, 'E0000022'],
    ];
    for (const [method, path, body, headers, status, code] of cases) {
      const res = await s.call(method, path, body, { authorization: '', ...headers });
      const label = `${method} ${path} ${JSON.stringify(headers)}`;
      expect(res.status, label).toBe(status);
      expect(res.body.errorCode, label).toBe(code);
      expect(res.body.errorLink, label).toBe(code);
      expect(errorShape(res.body), label).toEqual(ERROR_SHAPE);
      expect(shape({ ...res.body, errorCauses: [] }), label).toEqual(shape(specExample('ErrorApiValidationFailed')));
      for (const h of ['x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset', 'date', 'x-okta-request-id']) {
        expect(res.headers[h], `${label}: ${h}`).toBeDefined();
      }
    }
    const nf = await s.call('GET', '/api/v1/users/00uNOBODY00000000000/factors', undefined, auth);
    expect(nf.body.errorSummary).toBe('Not found: Resource not found: 00uNOBODY00000000000 (User)');
    const noType = await s.call('POST', `/api/v1/users/${u.id}/factors`, { provider: 'OKTA' }, auth);
    expect(noType.body.errorCauses.length).toBeGreaterThan(0);
    const badJson = await s.call('POST', `/api/v1/users/${u.id}/factors`, '{"factorType": ', auth);
    expect(badJson.body.errorCauses[0].errorSummary).toMatch(/not valid JSON/);
  });

  test('GET /api/v1/users/{idOrLogin} finds a user by id or by login', async () => {
    const s = await sim();
    const u = s.users[2]!;
    const byId = await s.call('GET', `/api/v1/users/${u.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: u.id, status: 'ACTIVE', profile: { login: u.login, email: u.login } });
    expect(byId.body._links.self.href).toBe(`${s.sim.url}/api/v1/users/${u.id}`);
    const byLogin = await s.call('GET', `/api/v1/users/${encodeURIComponent(u.login.toUpperCase())}`);
    expect(byLogin.body.id).toBe(u.id);
    const none = await s.call('GET', '/api/v1/users/nobody@example.com');
    expect(none.status).toBe(404);
    expect(none.body.errorCode).toBe('E0000007');
    expect(byId.headers['x-rate-limit-limit']).toBe('600');
  });

  test('generated users are deterministic from the seed and look like Okta ids', async () => {
    const a = await sim({ seed: 7, users: 3 });
    const b = await sim({ seed: 7, users: 3 });
    const c = await sim({ seed: 8, users: 3 });
    expect(a.users).toEqual(b.users);
    expect(a.users.map((u) => u.login)).toEqual(['user0001@example.com', 'user0002@example.com', 'user0003@example.com']);
    expect(c.users[0]!.id).not.toBe(a.users[0]!.id);
    for (const u of a.users) expect(u.id).toMatch(/^00u[A-Za-z0-9]{17}$/);
  });
});
