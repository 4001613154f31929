/**
 * Parsing of every documented factor answer of both references into FactorView:
 * the seed document's examples (verbatim text, padded values) and the spec excerpt's
 * examples, plus today's poll results (UserFactorActivatePush).
 */
import { describe, expect, it } from 'vitest';
import { OktaProtocolError } from '../../src/okta/errors.js';
import { OriginPolicy } from '../../src/okta/links.js';
import { cleanString, factorIdFromPath, parseFactor } from '../../src/okta/parse-factor.js';
import { seed } from './fixtures/seed.js';
import { specExample } from './fixtures/spec.js';

const ORG = 'https://acme.okta.com';
const U = '00u15s1KDETTQMQYABRL';

function policy(warnings: string[] = []): OriginPolicy {
  return new OriginPolicy(ORG, { warn: (m) => warnings.push(m) });
}

describe('seed dialect (verbatim seed text)', () => {
  const seedPath = `/api/v1/users/${seed.userId}/factors/${seed.factorId}`;

  it('reads the 301 enroll body: pending, padded values trimmed, poll from _links.poll with GET, install block as secrets', () => {
    const warnings: string[] = [];
    const p = policy(warnings);
    const view = parseFactor(seed.enrollResponse, { userId: seed.userId, href: (h) => p.normalizeHref(h) });
    expect(view).toMatchObject({
      factorId: seed.factorId,
      userId: seed.userId,
      factorType: 'push',
      provider: '',
      status: 'PENDING_ACTIVATION',
      state: 'waiting',
      created: '2013-06-24T16:39:18.000Z',
      lastUpdated: '2013-07-02T21:36:25.344Z',
      expiresAt: '2013-06-24T17:39:18.000Z',
      deviceName: 'My iPhone',
    });
    // the seed's links point at rain.okta1.com:1802: rebased onto the org, warned once
    expect(view.links.poll).toEqual({ href: `${ORG}${seedPath}`, method: 'GET' });
    expect(view.links.self).toEqual({ href: `${ORG}${seedPath}`, method: 'GET' });
    expect(view.links.activate).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(seed.linkOrigin);
    expect(view.secrets).toEqual({
      appStore: '<link-to-the-push-app>',
      barcode: '<bar-code-that-has-to-be-scanned-by-the-app-to-register>',
    });
    expect(JSON.stringify(view.links)).not.toContain('bar-code');
  });

  it('takes the poll link from _links.next {name: poll} when _links.poll is absent', () => {
    const body = structuredClone(seed.enrollResponse) as { _links: Record<string, unknown> };
    delete body._links.poll;
    const view = parseFactor(body, { userId: seed.userId });
    expect(view.links.poll).toEqual({ href: `${seed.linkOrigin}${seedPath}`, method: 'GET' });
  });

  it('defaults the poll method to GET when the link has no hints', () => {
    const body = structuredClone(seed.enrollResponse) as { _links: { poll: { hints?: unknown } } };
    delete body._links.poll.hints;
    expect(parseFactor(body, { userId: seed.userId }).links.poll?.method).toBe('GET');
  });

  it('reads "Poll before it was activated" as waiting', () => {
    const view = parseFactor(seed.pollPending, { userId: seed.userId, factorId: seed.factorId });
    expect(view).toMatchObject({ status: 'PENDING_ACTIVATION', state: 'waiting', expiresAt: '2013-06-24T17:39:18.000Z' });
    expect(view.secrets).toBeUndefined();
  });

  it('reads "Poll after it was activated" as activated with a deactivate link ("null" strings ignored)', () => {
    const view = parseFactor(seed.pollActivated, { userId: seed.userId });
    expect(view).toMatchObject({ status: 'ACTIVATED', state: 'activated' });
    expect(view.expiresAt).toBeUndefined();
    expect(view.links.deactivate).toEqual({ href: `${seed.linkOrigin}${seedPath}/lifecycle/deactivate`, method: 'POST' });
    expect(view.links.poll).toBeUndefined();
  });

  it('reads "Poll for a factor that was never activated" as expired with an activate link', () => {
    const view = parseFactor(seed.pollExpired, { userId: seed.userId });
    expect(view).toMatchObject({ status: 'EXPIRED', state: 'expired' });
    expect(view.links.activate).toEqual({ href: `${seed.linkOrigin}${seedPath}/lifecycle/activate`, method: 'POST' });
  });

  it('treats "null" and " null" strings as absent', () => {
    expect(cleanString(' null')).toBeUndefined();
    expect(cleanString('null')).toBeUndefined();
    expect(cleanString(' push')).toBe('push');
    expect(cleanString(null)).toBeUndefined();
    expect(cleanString(42)).toBeUndefined();
  });
});

describe("today's API (spec excerpt examples)", () => {
  it('push enroll (200): pending, poll by POST on lifecycle/activate/poll, expiresAt from _embedded.activation, QR + send links as secrets only', () => {
    const body = specExample('EnrollFactorOVPushResponse', ORG);
    const view = parseFactor(body, { userId: U });
    const base = `${ORG}/api/v1/users/${U}/factors/opfbtzzrjgwauUsxO0g4`;
    expect(view).toMatchObject({
      factorId: 'opfbtzzrjgwauUsxO0g4',
      factorType: 'push',
      provider: 'OKTA',
      status: 'PENDING_ACTIVATION',
      state: 'waiting',
      expiresAt: '2015-11-13T07:44:22.000Z',
      created: '2015-11-13T07:34:22.000Z',
    });
    expect(view.links).toEqual({
      poll: { href: `${base}/lifecycle/activate/poll`, method: 'POST' },
      self: { href: base, method: 'GET' },
    });
    expect(view.secrets).toEqual({
      qrcodeHref: `${base}/qr/00Ji8qVBNJD4LmjYy1WZO2VbNqvvPdaCVua-1qjypa`,
      send: [
        { name: 'email', href: `${base}/lifecycle/activate/email`, method: 'POST' },
        { name: 'sms', href: `${base}/lifecycle/activate/sms`, method: 'POST' },
      ],
    });
    const links = JSON.stringify(view.links);
    expect(links).not.toContain('/qr/');
    expect(links).not.toContain('/lifecycle/activate/email');
  });

  it('totp enroll: sharedSecret and the _embedded._links.qrcode as secrets, activate link', () => {
    const view = parseFactor(specExample('EnrollFactorOVTotpResponse', ORG), { userId: U });
    expect(view).toMatchObject({ factorId: 'ostf1fmaMGJLMNGNLIVG', factorType: 'token:software:totp', state: 'waiting' });
    expect(view.links.activate?.method).toBe('POST');
    expect(view.secrets?.sharedSecret).toBe('JBTWGV22G4ZGKV3N');
    expect(view.secrets?.qrcodeHref).toContain('/qr/00fukNElRS_Tz6k-CFhg3pH4KO2dj2guhmaapXWbc4');
    expect(JSON.stringify(view.links)).not.toContain('JBTWGV22G4ZGKV3N');
  });

  it.each([
    ['EnrollFactorSmsResponse', 'mbl1nz9JHJGHWRKMTLHP', 'sms'],
    ['EnrollFactorCallResponse', 'clf1nz9JHJGHWRKMTLHP', 'call'],
    ['EnrollFactorEmailResponse', 'emfnf3gSScB8xXoXK0g3', 'email'],
  ] as const)('%s: pending with an activate link, no secrets', (name, id, type) => {
    const view = parseFactor(specExample(name, ORG), { userId: U });
    expect(view).toMatchObject({ factorId: id, factorType: type, provider: 'OKTA', status: 'PENDING_ACTIVATION', state: 'waiting' });
    expect(view.links.activate).toEqual({ href: expect.stringMatching(new RegExp(`/factors/${id}/lifecycle/activate$`)), method: 'POST' });
    expect(view.secrets).toBeUndefined();
  });

  it.each([
    'ActivateFactorPushResponse',
    'ActivateFactorSmsResponse',
    'ActivateFactorCallResponse',
    'ActivateFactorEmailResponse',
    'ActivateFactorTotpResponse',
    'FactorResponseSms',
    'FactorEmail',
  ] as const)('%s: ACTIVE is activated', (name) => {
    const view = parseFactor(specExample(name, ORG), { userId: U });
    expect(view.status).toBe('ACTIVE');
    expect(view.state).toBe('activated');
    expect(view.links.self?.method).toBe('GET');
  });

  it('list: every factor, the activate link from _links.next {name: activate}, totp secret kept apart', () => {
    const list = specExample('ListFactorsResults', ORG) as unknown[];
    const views = list.map((f) => parseFactor(f, { userId: U }));
    expect(views.map((v) => [v.factorId, v.factorType, v.state])).toEqual([
      ['ufs2bysphxKODSZKWVCT', 'question', 'activated'],
      ['ostf2gsyictRQDSGTDZE', 'token:software:totp', 'waiting'],
      ['sms2gt8gzgEBPUWBIFHN', 'sms', 'activated'],
    ]);
    expect(views[1]?.links.activate?.href).toMatch(/ostf2gsyictRQDSGTDZE\/lifecycle\/activate$/);
    expect(views[1]?.secrets?.sharedSecret).toBe('HE64TMLL2IUZW2ZLB');
  });

  describe('poll answers (UserFactorActivatePush: no id, factorResult)', () => {
    const pollPath = `/api/v1/users/${U}/factors/opfbtzzrjgwauUsxO0g4/lifecycle/activate/poll`;
    const factorId = factorIdFromPath(pollPath);

    it('WAITING is waiting; the factor id comes from the link path; expiresAt top level', () => {
      const view = parseFactor(
        {
          expiresAt: '2015-11-13T07:44:22.000Z',
          factorResult: 'WAITING',
          _links: { poll: { href: `${ORG}${pollPath}`, hints: { allow: ['POST'] } } },
        },
        { userId: U, factorId },
      );
      expect(view).toMatchObject({ factorId: 'opfbtzzrjgwauUsxO0g4', status: 'WAITING', state: 'waiting', expiresAt: '2015-11-13T07:44:22.000Z' });
      expect(view.links.poll).toEqual({ href: `${ORG}${pollPath}`, method: 'POST' });
    });

    it('TIMEOUT is expired, with the activate link to restart', () => {
      const view = parseFactor(
        {
          factorResult: 'TIMEOUT',
          _links: { activate: { href: `${ORG}/api/v1/users/${U}/factors/opfbtzzrjgwauUsxO0g4/lifecycle/activate`, hints: { allow: ['POST'] } } },
        },
        { userId: U, factorId },
      );
      expect(view).toMatchObject({ status: 'TIMEOUT', state: 'expired' });
      expect(view.links.activate?.method).toBe('POST');
    });

    it('CANCELLED is cancelled, ERROR is error, unknown statuses are other', () => {
      expect(parseFactor({ factorResult: 'CANCELLED' }, { userId: U, factorId })).toMatchObject({ state: 'cancelled', factorResult: 'CANCELLED', shape: 'activation' });
      expect(parseFactor({ factorResult: ' error' }, { userId: U, factorId })).toMatchObject({ state: 'error', factorResult: 'ERROR' });
      expect(parseFactor({ id: 'x', status: 'INACTIVE' }, { userId: U })).toMatchObject({ state: 'other', shape: 'factor' });
      expect(parseFactor({ id: 'x', status: 'INACTIVE' }, { userId: U }).factorResult).toBeUndefined();
    });
  });
});

describe('archived reference: restarting a push activation (Push Factor Activation object alone)', () => {
  // "Activate Push Factor" response examples of factors-archived-reference.md, verbatim but for the domain.
  const base = `${ORG}/api/v1/users/00u15s1KDETTQMQYABRL/factors/opf3hkfocI4JTLAju0g4`;
  const activatePath = '/api/v1/users/00u15s1KDETTQMQYABRL/factors/opf3hkfocI4JTLAju0g4/lifecycle/activate';
  const ctx = { userId: U, factorId: factorIdFromPath(activatePath), method: 'POST', path: activatePath };
  const waiting = {
    expiresAt: '2015-04-01T15:57:32.000Z',
    factorResult: 'WAITING',
    _links: {
      poll: { href: `${base}/lifecycle/activate`, hints: { allow: ['POST'] } },
      qrcode: { href: `${base}/qr/00fukNElRS_Tz6k-CFhg3pH4KO2dj2guhmaapXWbc4`, type: 'image/png' },
      send: [
        { name: 'email', href: `${base}/lifecycle/activate/email`, hints: { allow: ['POST'] } },
        { name: 'sms', href: `${base}/lifecycle/activate/sms`, hints: { allow: ['POST'] } },
      ],
    },
  };

  it('waiting: factor id from the request path, poll = lifecycle/activate (pollIsActivate), QR and send links as secrets only', () => {
    const view = parseFactor(waiting, ctx);
    expect(view).toMatchObject({
      factorId: 'opf3hkfocI4JTLAju0g4',
      userId: U,
      status: 'WAITING',
      state: 'waiting',
      factorResult: 'WAITING',
      shape: 'activation',
      pollIsActivate: true,
      expiresAt: '2015-04-01T15:57:32.000Z',
      expiresAtMs: Date.parse('2015-04-01T15:57:32.000Z'),
    });
    expect(view.links).toEqual({ poll: { href: `${base}/lifecycle/activate`, method: 'POST' } });
    expect(view.secrets).toEqual({
      qrcodeHref: `${base}/qr/00fukNElRS_Tz6k-CFhg3pH4KO2dj2guhmaapXWbc4`,
      send: [
        { name: 'email', href: `${base}/lifecycle/activate/email`, method: 'POST' },
        { name: 'sms', href: `${base}/lifecycle/activate/sms`, method: 'POST' },
      ],
    });
    const links = JSON.stringify(view.links);
    expect(links).not.toContain('/qr/');
    expect(links).not.toContain('/activate/email');
    expect(links).not.toContain('/activate/sms');
  });

  it('a poll link to lifecycle/activate without hints is still a POST; today\'s activate/poll is not pollIsActivate', () => {
    const noHints = structuredClone(waiting) as { _links: { poll: { hints?: unknown } } };
    delete noHints._links.poll.hints;
    expect(parseFactor(noHints, ctx).links.poll?.method).toBe('POST');
    const today = parseFactor({ factorResult: 'WAITING', _links: { poll: { href: `${base}/lifecycle/activate/poll` } } }, ctx);
    expect(today.links.poll?.method).toBe('POST');
    expect(today.pollIsActivate).toBeUndefined();
  });

  it('timeout: expired with the activate link, no poll link', () => {
    const view = parseFactor({ factorResult: 'TIMEOUT', _links: { activate: { href: `${base}/lifecycle/activate`, hints: { allow: ['POST'] } } } }, ctx);
    expect(view).toMatchObject({ state: 'expired', status: 'TIMEOUT', factorResult: 'TIMEOUT', shape: 'activation' });
    expect(view.links).toEqual({ activate: { href: `${base}/lifecycle/activate`, method: 'POST' } });
    expect(view.pollIsActivate).toBeUndefined();
    expect(view.expiresAtMs).toBeUndefined();
  });

  it('activated: the full factor (status ACTIVE)', () => {
    const view = parseFactor({ id: 'opf3hkfocI4JTLAju0g4', factorType: 'push', provider: 'OKTA', status: 'ACTIVE', _links: { self: { href: base, hints: { allow: ['GET', 'DELETE'] } } } }, ctx);
    expect(view).toMatchObject({ state: 'activated', shape: 'factor', factorId: 'opf3hkfocI4JTLAju0g4' });
    expect(view.factorResult).toBeUndefined();
  });

  it("factorResult of an embedded activation counts: a pending factor whose activation timed out is expired", () => {
    const body = specExample('EnrollFactorOVPushResponse', ORG);
    expect(parseFactor(body, { userId: U })).toMatchObject({ state: 'waiting', factorResult: 'WAITING', status: 'PENDING_ACTIVATION' });
    body._embedded.activation.factorResult = 'TIMEOUT';
    expect(parseFactor(body, { userId: U })).toMatchObject({ state: 'expired', status: 'PENDING_ACTIVATION' });
  });

  it('expiresAtMs is Okta\'s expiresAt on our clock: corrected by the clock offset', () => {
    const offset = 42_500; // Okta's clock is 42.5 s ahead of ours
    const view = parseFactor(waiting, { ...ctx, clockOffsetMs: offset });
    expect(view.expiresAtMs).toBe(Date.parse('2015-04-01T15:57:32.000Z') - offset);
    expect(parseFactor({ ...waiting, expiresAt: 'soon' }, ctx).expiresAtMs).toBeUndefined();
  });
});

describe('listing shapes: a pending push without a poll link', () => {
  const base = `${ORG}/api/v1/users/${U}/factors/opf1`;
  const pending = { id: 'opf1', factorType: 'push', provider: 'OKTA', status: 'PENDING_ACTIVATION' };

  it.each([
    ['_links.next {name: activate}', { next: { name: 'activate', href: `${base}/lifecycle/activate`, hints: { allow: ['POST'] } } }],
    ['_links.activate', { activate: { href: `${base}/lifecycle/activate`, hints: { allow: ['POST'] } } }],
  ])('%s → waiting with links.activate, no links.poll', (_name, links) => {
    const view = parseFactor({ ...pending, _links: { ...links, self: { href: base } } }, { userId: U });
    expect(view).toMatchObject({ state: 'waiting', shape: 'factor' });
    expect(view.links.activate).toEqual({ href: `${base}/lifecycle/activate`, method: 'POST' });
    expect(view.links.poll).toBeUndefined();
    expect(view.pollIsActivate).toBeUndefined();
    expect(view.secrets).toBeUndefined();
  });
});

describe('malformed answers', () => {
  it('refuses a non-object and an answer without any factor id', () => {
    expect(() => parseFactor([], { userId: U, method: 'GET', path: '/p' })).toThrow(OktaProtocolError);
    expect(() => parseFactor({ status: 'ACTIVE' }, { userId: U })).toThrow(/expected a factor with an `id`/);
  });

  it('ignores hints it cannot read and falls back to the link kind default', () => {
    const view = parseFactor({ id: 'f', _links: { activate: { href: `${ORG}/a`, hints: { allow: ['BREW'] } } } }, { userId: U });
    expect(view.links.activate?.method).toBe('POST');
  });

  it('factorIdFromPath reads /factors/{id} and decodes it', () => {
    expect(factorIdFromPath('/api/v1/users/u/factors/f%2B1/lifecycle/activate')).toBe('f+1');
    expect(factorIdFromPath('/api/v1/users/u/factors')).toBeUndefined();
  });
});
