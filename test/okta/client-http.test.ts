/**
 * The client against tiny real HTTP servers on 127.0.0.1:0 serving canned answers
 * (no mocks of undici): headers, both dialects' lifecycle, errors, 401 refresh,
 * timeouts and dropped connections, the origin policy with a second real listener
 * that must never be contacted, the gate, pagination.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createOktaClient } from '../../src/okta/client.js';
import { ForeignOriginError, InsecureTransportError, OktaApiError, OktaNetworkError, OktaProtocolError } from '../../src/okta/errors.js';
import type { AuthProvider, Bucket, OktaClient, OktaClientOptions, RateLimitInfo, RequestGate } from '../../src/okta/types.js';
import { json, startCannedServer, type CannedServer } from './helpers/canned-server.js';
import { seed } from './fixtures/seed.js';
import { specExample } from './fixtures/spec.js';
import { failure as rejection } from './helpers/failure.js';

const TOKEN = '00abcDEFghiJKLmnoPQRstuVWXyz0123456789-_';
const U = '00u15s1KDETTQMQYABRL';

let org: CannedServer;
let foreign: CannedServer;
let client: OktaClient | undefined;
const warnings: string[] = [];

beforeEach(async () => {
  warnings.length = 0;
  org = await startCannedServer();
  foreign = await startCannedServer((_req, res) => json(res, 500, { errorCode: 'FOREIGN', errorSummary: 'a foreign host was contacted' }));
});

afterEach(async () => {
  await client?.close();
  client = undefined;
  await org.close();
  await foreign.close();
});

function makeClient(extra: Partial<OktaClientOptions> = {}): OktaClient {
  client = createOktaClient({ orgUrl: org.origin, auth: sswsAuth(TOKEN), warn: (m) => warnings.push(m), ...extra });
  return client;
}

function rateHeaders(limit: number, remaining: number, resetSec: number, dateMs: number): Record<string, string> {
  return {
    'x-rate-limit-limit': String(limit),
    'x-rate-limit-remaining': String(remaining),
    'x-rate-limit-reset': String(resetSec),
    date: new Date(dateMs).toUTCString(),
    'x-okta-request-id': 'req-123',
  };
}


describe('request headers', () => {
  it('sends SSWS auth, Accept, User-Agent; Content-Type on every POST (a bodyless one sends no body), not on GET / DELETE', async () => {
    org.handle((req, res) => {
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      if (req.method === 'POST' && req.url?.endsWith('/lifecycle/activate'))
        return json(res, 200, { factorResult: 'TIMEOUT', _links: { activate: { href: `${org.origin}${req.url}`, hints: { allow: ['POST'] } } } });
      return req.method === 'POST' ? json(res, 200, specExample('EnrollFactorOVPushResponse', org.origin)) : json(res, 200, []);
    });
    const c = makeClient();
    await c.listFactors(U);
    await c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' });
    await c.activate(U, { href: `/api/v1/users/${U}/factors/opf1/lifecycle/activate`, method: 'POST' });
    await c.deleteFactor(U, 'opf1');
    const [get, post, activate, del] = org.requests;
    expect(get?.headers.authorization).toBe(`SSWS ${TOKEN}`);
    expect(get?.headers.accept).toBe('application/json');
    expect(get?.headers['user-agent']).toMatch(/^bulk-enroll\/\d+\.\d+\.\d+ node\/\S+$/);
    expect(get?.headers['content-type']).toBeUndefined();
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? '')).toEqual({ factorType: 'push', provider: 'OKTA' });
    expect(post?.url).toBe(`/api/v1/users/${U}/factors`);
    // okta-sdk-nodejs 8.1 activateFactor() without a body: Content-Type: application/json, empty body
    expect(activate?.headers['content-type']).toBe('application/json');
    expect(activate?.body).toBe('');
    expect(activate?.headers['content-length'] ?? '0').toBe('0');
    expect(del?.headers['content-type']).toBeUndefined();
  });

  it('puts the run id into the User-Agent, so the System Log ties each request to its run', async () => {
    org.handle((_req, res) => json(res, 200, { id: '00u9', status: 'ACTIVE', profile: { login: 'a@b.c' } }));
    const c = makeClient();
    await c.getUser('a@b.c', { runId: '20240101-120000-ab12' });
    await c.getUser('a@b.c', { runId: 'odd id/é' });
    await c.getUser('a@b.c');
    const agents = org.requests.map((r) => r.headers['user-agent']);
    expect(agents[0]).toMatch(/^bulk-enroll\/\d+\.\d+\.\d+ node\/\d+\.\d+\.\d+ run\/20240101-120000-ab12$/);
    expect(agents[1]).toMatch(/ run\/odd_id__$/);
    expect(agents[2]).not.toContain('run/');
  });

  it('getUser reads status and profile.timezone', async () => {
    org.handle((req, res) =>
      req.url.endsWith('/00uTz')
        ? json(res, 200, { id: '00uTz', status: 'PROVISIONED', profile: { login: 'tz@example.com', timezone: 'Europe/Berlin' } })
        : json(res, 200, { id: '00uNo', status: ' null', profile: { login: 'no@example.com', timezone: '' } }),
    );
    const c = makeClient();
    expect(await c.getUser('00uTz')).toEqual({ id: '00uTz', login: 'tz@example.com', status: 'PROVISIONED', timeZone: 'Europe/Berlin' });
    expect(await c.getUser('00uNo')).toEqual({ id: '00uNo', login: 'no@example.com' });
  });

  it('encodes a login in the path and adds activate=true when asked', async () => {
    org.handle((req, res) =>
      req.url?.startsWith('/api/v1/users/dade')
        ? json(res, 200, { id: '00u9', status: 'ACTIVE', profile: { login: 'dade.murphy@example.com' } })
        : json(res, 200, specExample('EnrollFactorSmsResponse', org.origin)),
    );
    const c = makeClient();
    expect(await c.getUser('dade.murphy+x@example.com')).toEqual({ id: '00u9', login: 'dade.murphy@example.com', status: 'ACTIVE' });
    expect(org.requests[0]?.url).toBe('/api/v1/users/dade.murphy%2Bx%40example.com');
    await c.enrollFactor(U, { factorType: 'sms', provider: 'OKTA', profile: { phoneNumber: '+1-555-415-1337' } }, { activate: true });
    expect(org.requests[1]?.url).toBe(`/api/v1/users/${U}/factors?activate=true`);
  });
});

describe("today's dialect over HTTP", () => {
  it('enroll 200 → poll (POST) WAITING → poll ACTIVE; DELETE 204', async () => {
    let polls = 0;
    const factorPath = `/api/v1/users/${U}/factors/opfbtzzrjgwauUsxO0g4`;
    org.handle((req, res) => {
      if (req.method === 'POST' && req.url === `/api/v1/users/${U}/factors`) return json(res, 200, specExample('EnrollFactorOVPushResponse', org.origin));
      if (req.method === 'POST' && req.url === `${factorPath}/lifecycle/activate/poll`) {
        polls++;
        if (polls === 1)
          return json(res, 200, {
            expiresAt: '2015-11-13T07:44:22.000Z',
            factorResult: 'WAITING',
            _links: { poll: { href: `${org.origin}${factorPath}/lifecycle/activate/poll`, hints: { allow: ['POST'] } } },
          });
        return json(res, 200, specExample('ActivateFactorPushResponse', org.origin));
      }
      if (req.method === 'DELETE' && req.url === factorPath) {
        res.writeHead(204).end();
        return;
      }
      json(res, 404, specExample('ErrorResourceNotFound'));
    });
    const c = makeClient();
    const enrolled = await c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' });
    expect(enrolled.state).toBe('waiting');
    expect(enrolled.links.poll?.method).toBe('POST');
    const first = await c.poll(U, enrolled.links.poll!);
    expect(first).toMatchObject({ factorId: 'opfbtzzrjgwauUsxO0g4', userId: U, state: 'waiting', status: 'WAITING' });
    const second = await c.poll(U, first.links.poll!);
    expect(second).toMatchObject({ state: 'activated', status: 'ACTIVE' });
    await c.deleteFactor(U, 'opfbtzzrjgwauUsxO0g4');
    expect(org.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST', 'DELETE']);
    expect(foreign.connections).toBe(0);
  });

  it('TIMEOUT → activate (POST lifecycle/activate) → waiting again; send link posted', async () => {
    const base = `/api/v1/users/${U}/factors/opf1`;
    org.handle((req, res) => {
      if (req.url === `${base}/lifecycle/activate/poll`)
        return json(res, 200, { factorResult: 'TIMEOUT', _links: { activate: { href: `${org.origin}${base}/lifecycle/activate`, hints: { allow: ['POST'] } } } });
      if (req.url === `${base}/lifecycle/activate`)
        return json(res, 200, {
          id: 'opf1',
          factorType: 'push',
          provider: 'OKTA',
          status: 'PENDING_ACTIVATION',
          _links: { poll: { href: `${org.origin}${base}/lifecycle/activate/poll`, hints: { allow: ['POST'] } } },
          _embedded: { activation: { expiresAt: '2030-01-01T00:10:00.000Z', factorResult: 'WAITING', _links: { qrcode: { href: `${org.origin}${base}/qr/abc` } } } },
        });
      if (req.url === `${base}/lifecycle/activate/email`) return json(res, 200, {});
      json(res, 404, specExample('ErrorResourceNotFound'));
    });
    const c = makeClient();
    const expired = await c.poll(U, { href: `${org.origin}${base}/lifecycle/activate/poll`, method: 'POST' });
    expect(expired).toMatchObject({ factorId: 'opf1', state: 'expired', status: 'TIMEOUT' });
    const restarted = await c.activate(U, expired.links.activate!);
    expect(restarted).toMatchObject({ state: 'waiting', expiresAt: '2030-01-01T00:10:00.000Z' });
    expect(restarted.secrets?.qrcodeHref).toBe(`${org.origin}${base}/qr/abc`);
    await c.sendActivation(U, { href: `${org.origin}${base}/lifecycle/activate/email`, method: 'POST' });
    expect(org.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${base}/lifecycle/activate/poll`,
      `POST ${base}/lifecycle/activate`,
      `POST ${base}/lifecycle/activate/email`,
    ]);
  });
});

describe('seed dialect over HTTP: 301 + body, links on another host', () => {
  function serveSeed(linkOrigin: string): void {
    const swap = (v: unknown) => JSON.parse(JSON.stringify(v).split(seed.linkOrigin).join(linkOrigin));
    org.handle((req, res) => {
      if (req.method === 'POST') {
        return json(res, 301, swap(seed.enrollResponse), { location: seed.enrollLocation.replace(seed.linkOrigin, linkOrigin) });
      }
      if (req.method === 'GET' && req.url === `/api/v1/users/${seed.userId}/factors/${seed.factorId}`) return json(res, 200, swap(seed.pollActivated));
      json(res, 404, specExample('ErrorResourceNotFound'));
    });
  }

  it('takes the 301 body as the enrollment, never requests the Location, and polls on the org origin: the foreign listener sees nothing', async () => {
    serveSeed(foreign.origin);
    const c = makeClient();
    const enrolled = await c.enrollFactor(seed.userId, { factorType: 'push', provider: 'duo', deviceType: 'smartphone:ios', profile: { deviceName: 'My iPhone' } });
    expect(enrolled).toMatchObject({ factorId: seed.factorId, state: 'waiting', deviceName: 'My iPhone' });
    expect(enrolled.links.poll).toEqual({ href: `${org.origin}/api/v1/users/${seed.userId}/factors/${seed.factorId}`, method: 'GET' });
    expect(enrolled.secrets?.barcode).toContain('bar-code');
    const polled = await c.poll(seed.userId, enrolled.links.poll!);
    expect(polled.state).toBe('activated');
    expect(polled.links.deactivate?.href.startsWith(org.origin)).toBe(true);
    expect(org.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(foreign.connections).toBe(0);
    expect(foreign.requests).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(foreign.origin);
  });

  it("a link kept from elsewhere (still foreign) is rebased when followed, not sent to its host", async () => {
    serveSeed(foreign.origin);
    const c = makeClient();
    const polled = await c.poll(seed.userId, { href: `${foreign.origin}/api/v1/users/${seed.userId}/factors/${seed.factorId}`, method: 'GET' });
    expect(polled.state).toBe('activated');
    expect(foreign.connections).toBe(0);
    expect(org.requests[0]?.headers.authorization).toBe(`SSWS ${TOKEN}`);
  });

  it("'fail' mode: following a foreign link throws ForeignOriginError and nothing is sent anywhere", async () => {
    serveSeed(foreign.origin);
    const c = makeClient({ foreignLinks: 'fail' });
    const enrolled = await c.enrollFactor(seed.userId, { factorType: 'push', provider: 'duo' });
    expect(enrolled.links.poll?.href.startsWith(foreign.origin)).toBe(true);
    const err = await rejection(c.poll(seed.userId, enrolled.links.poll!));
    expect(err).toBeInstanceOf(ForeignOriginError);
    expect((err as ForeignOriginError).linkOrigin).toBe(foreign.origin);
    expect(org.requests).toHaveLength(1);
    expect(foreign.connections).toBe(0);
  });

  it('a non-API foreign link is refused even in rebase mode', async () => {
    const c = makeClient();
    await expect(c.sendActivation(U, { href: `${foreign.origin}/collect`, method: 'POST' })).rejects.toBeInstanceOf(ForeignOriginError);
    expect(foreign.connections).toBe(0);
    expect(org.requests).toHaveLength(0);
  });

  it('a 302 without a body is not followed', async () => {
    org.handle((_req, res) => {
      res.writeHead(302, { location: `${foreign.origin}/api/v1/users/${U}/factors/x` }).end();
    });
    const c = makeClient();
    const err = await rejection(c.getFactor(U, 'x'));
    expect(err).toBeInstanceOf(OktaProtocolError);
    expect((err as Error).message).toMatch(/302 .*redirects are not followed/);
    expect(foreign.connections).toBe(0);
  });
});

describe('plain http', () => {
  it('refuses a non-loopback http:// org URL before any connection', () => {
    expect(() => createOktaClient({ orgUrl: 'http://acme.example.com', auth: sswsAuth(TOKEN) })).toThrow(InsecureTransportError);
  });
  it('allows it when opted in, with one warning', async () => {
    const w: string[] = [];
    const c = createOktaClient({ orgUrl: 'http://sim.internal:8080', auth: sswsAuth(TOKEN), allowInsecureHttp: true, warn: (m) => w.push(m) });
    await c.close();
    expect(w).toHaveLength(1);
  });
});

describe('errors', () => {
  it.each([
    [400, 'ErrorApiValidationFailed', 'E0000001'],
    [403, 'ErrorAccessDenied', 'E0000006'],
    [404, 'ErrorResourceNotFound', 'E0000007'],
  ] as const)('%i → OktaApiError %s with status, code, summary, request id, path without query', async (status, example, code) => {
    org.handle((_req, res) => json(res, status, specExample(example), rateHeaders(600, 599, 2_000_000_000, Date.now())));
    const c = makeClient();
    const err = await rejection(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }, { activate: true }));
    expect(err).toBeInstanceOf(OktaApiError);
    const e = err as OktaApiError;
    expect(e).toMatchObject({ status, errorCode: code, requestId: 'req-123', method: 'POST', path: `/api/v1/users/${U}/factors` });
    expect(e.errorSummary).toBe(specExample(example).errorSummary);
    expect(e.rateLimit?.remaining).toBe(599);
    expect(e.rateLimitKind).toBeUndefined();
    expect(e.message).not.toContain(TOKEN);
  });

  it('carries errorCauses (duplicate enrollment)', async () => {
    org.handle((_req, res) =>
      json(res, 400, {
        errorCode: 'E0000001',
        errorSummary: 'Api validation failed: factorEnrollRequest',
        errorLink: 'E0000001',
        errorId: 'oaeX',
        errorCauses: [{ errorSummary: 'A factor of this type is already set up.' }],
      }),
    );
    const c = makeClient();
    const e = (await rejection(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }))) as OktaApiError;
    expect(e.causes).toEqual(['A factor of this type is already set up.']);
    expect(e.message).toContain('A factor of this type is already set up.');
  });

  it.each([
    ['bucket', 600, 0],
    ['concurrency', 0, 0],
    ['resource', 600, 321],
  ] as const)('429 (%s): rate limit info with resetInMs from Date', async (kind, limit, remaining) => {
    const now = Date.now();
    const dateMs = Math.floor(now / 1000) * 1000;
    const resetSec = dateMs / 1000 + 7;
    org.handle((_req, res) => json(res, 429, specExample('ErrorTooManyRequests'), rateHeaders(limit, remaining, resetSec, dateMs)));
    const c = makeClient();
    const e = (await rejection(c.getFactor(U, 'f1'))) as OktaApiError;
    expect(e).toBeInstanceOf(OktaApiError);
    expect(e.isRateLimit).toBe(true);
    expect(e.errorCode).toBe('E0000047');
    expect(e.rateLimitKind).toBe(kind);
    expect(e.rateLimit).toEqual({ limit, remaining, resetAtMs: resetSec * 1000, resetInMs: 7000 });
  });

  it('a non-JSON error body → HTTP_<status>', async () => {
    org.handle((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
    });
    const c = makeClient();
    const e = (await rejection(c.getUser('someone'))) as OktaApiError;
    expect(e).toMatchObject({ status: 502, errorCode: 'HTTP_502', isServerError: true });
    expect(e.errorSummary).toMatch(/Bad Gateway.*non-JSON/);
  });

  it('a 2xx answer that is not JSON → OktaProtocolError', async () => {
    org.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    const c = makeClient();
    await expect(c.getFactor(U, 'f1')).rejects.toBeInstanceOf(OktaProtocolError);
  });

  it('503 E0000010 is read-only mode (a server error, and isReadOnly)', async () => {
    org.handle((_req, res) =>
      json(res, 503, { errorCode: 'E0000010', errorSummary: 'Service is in read only mode', errorLink: 'E0000010', errorId: 'oae1', errorCauses: [] }),
    );
    const c = makeClient();
    const e = (await rejection(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }))) as OktaApiError;
    expect(e).toMatchObject({ status: 503, errorCode: 'E0000010', isReadOnly: true, isServerError: true, isRateLimit: false });
    org.handle((_req, res) => json(res, 503, { errorCode: 'E0000009', errorSummary: 'Internal Server Error' }));
    expect(((await rejection(c.getUser('x'))) as OktaApiError).isReadOnly).toBe(false);
  });

  it('an error summary echoing the first 16 characters of the token carries none of them', async () => {
    org.handle((req, res) =>
      json(res, 401, {
        errorCode: 'E0000011',
        errorSummary: `Invalid token provided: ${String(req.headers.authorization).slice(5, 21)}...`,
        errorCauses: [{ errorSummary: `token ${TOKEN.slice(0, 12)} unknown; ${TOKEN.slice(0, 7)} is too short to tell` }],
      }),
    );
    const c = makeClient();
    const e = (await rejection(c.getUser('x'))) as OktaApiError;
    expect(e.errorSummary).toBe('Invalid token provided: [REDACTED]...');
    expect(e.causes).toEqual([`token [REDACTED] unknown; ${TOKEN.slice(0, 7)} is too short to tell`]);
    expect(e.message).not.toContain(TOKEN.slice(0, 8));
  });

  it('an error summary echoing the token does not carry it', async () => {
    org.handle((req, res) => json(res, 400, { errorCode: 'E0000001', errorSummary: `bad header ${req.headers.authorization}` }));
    const c = makeClient();
    const e = (await rejection(c.getUser('x'))) as OktaApiError;
    expect(e.message).not.toContain(TOKEN);
    expect(e.errorSummary).toContain('[REDACTED]');
  });
});

describe('401 and credential refresh', () => {
  function countingAuth(refreshResult: boolean): AuthProvider & { refreshes: number; token: string } {
    const auth = {
      refreshes: 0,
      token: 'old-token-123456',
      async headers() {
        return { authorization: `SSWS ${auth.token}` };
      },
      async onUnauthorized() {
        auth.refreshes++;
        if (refreshResult) auth.token = 'new-token-654321';
        return refreshResult;
      },
      secrets: () => [auth.token],
    };
    return auth;
  }

  it('calls onUnauthorized and retries once with the refreshed credentials', async () => {
    org.handle((req, res) =>
      req.headers.authorization === 'SSWS new-token-654321'
        ? json(res, 200, { id: '00u1', profile: { login: 'a@b.c' } })
        : json(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' }),
    );
    const auth = countingAuth(true);
    const c = makeClient({ auth });
    expect((await c.getUser('a@b.c')).id).toBe('00u1');
    expect(auth.refreshes).toBe(1);
    expect(org.requests.map((r) => r.headers.authorization)).toEqual(['SSWS old-token-123456', 'SSWS new-token-654321']);
  });

  it('retries at most once; without a refresh it does not retry', async () => {
    org.handle((_req, res) => json(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' }));
    const refreshing = countingAuth(true);
    const c = makeClient({ auth: refreshing });
    const e = (await rejection(c.getUser('a'))) as OktaApiError;
    expect(e).toMatchObject({ status: 401, errorCode: 'E0000011' });
    expect(org.requests).toHaveLength(2);
    await c.close();
    const notRefreshing = countingAuth(false);
    const c2 = makeClient({ auth: notRefreshing });
    await expect(c2.getUser('a')).rejects.toBeInstanceOf(OktaApiError);
    expect(notRefreshing.refreshes).toBe(1);
    expect(org.requests).toHaveLength(3);
  });
});

describe('network failures', () => {
  it('no answer within timeoutMs → OktaNetworkError, maybeProcessed', async () => {
    org.handle(() => {
      /* never answers */
    });
    const c = makeClient({ timeoutMs: 300 });
    const started = Date.now();
    const e = (await rejection(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }))) as OktaNetworkError;
    expect(e).toBeInstanceOf(OktaNetworkError);
    expect(e.maybeProcessed).toBe(true);
    expect(e.path).toBe(`/api/v1/users/${U}/factors`);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(e.message).not.toContain(TOKEN);
  });

  it('a body that stalls after the headers → OktaNetworkError', async () => {
    org.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":');
    });
    const c = makeClient({ timeoutMs: 300 });
    const e = (await rejection(c.getFactor(U, 'f'))) as OktaNetworkError;
    expect(e).toBeInstanceOf(OktaNetworkError);
    expect(e.maybeProcessed).toBe(true);
  });

  it('connection destroyed after the request was received → maybeProcessed: true', async () => {
    org.handle((_req, _res, raw) => {
      raw.socket.destroy();
    });
    const c = makeClient();
    const e = (await rejection(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }))) as OktaNetworkError;
    expect(e).toBeInstanceOf(OktaNetworkError);
    expect(e.maybeProcessed).toBe(true);
    expect(org.requests).toHaveLength(1);
    expect(e.message).not.toContain(TOKEN);
  });

  it('connection refused → maybeProcessed: false', async () => {
    const closed: Server = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    client = createOktaClient({ orgUrl: `http://127.0.0.1:${port}`, auth: sswsAuth(TOKEN) });
    const e = (await rejection(client.getUser('x'))) as OktaNetworkError;
    expect(e).toBeInstanceOf(OktaNetworkError);
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.maybeProcessed).toBe(false);
  });
});

describe('gate', () => {
  it('runs every request through gate.run with its bucket and observes every answer (errors too)', async () => {
    const now = Date.now();
    org.handle((req, res) => {
      const h = rateHeaders(600, 100, Math.floor(now / 1000) + 30, now);
      if (req.url?.startsWith('/api/v1/groups')) return json(res, 429, specExample('ErrorTooManyRequests'), { ...h, 'x-rate-limit-remaining': '0' });
      if (req.url?.includes('/factors')) return json(res, 200, [], h);
      json(res, 200, { id: '00u1', profile: { login: 'a' } }, h);
    });
    const runs: Bucket[] = [];
    const observed: Array<[Bucket, number, RateLimitInfo | undefined]> = [];
    let inside = 0;
    const gate: RequestGate = {
      async run(bucket, fn) {
        runs.push(bucket);
        inside++;
        try {
          return await fn();
        } finally {
          inside--;
        }
      },
      observe(bucket, info, status) {
        expect(inside).toBe(1);
        observed.push([bucket, status, info]);
      },
    };
    const c = makeClient({ gate });
    await c.getUser('a');
    await c.listFactors(U);
    await expect(c.findGroups('eng')).rejects.toBeInstanceOf(OktaApiError);
    expect(runs).toEqual(['users', 'factors', 'groups']);
    expect(observed.map(([b, s, i]) => [b, s, i?.remaining])).toEqual([
      ['users', 200, 100],
      ['factors', 200, 100],
      ['groups', 429, 0],
    ]);
  });
});

describe('gate.observe hears every answer with its errorCode', () => {
  it('error answers with and without rate-limit headers, successes without them, a body past its cap', async () => {
    const now = Date.now();
    org.handle((req, res) => {
      if (req.url.endsWith('/ro')) return json(res, 503, { errorCode: 'E0000010', errorSummary: 'Service is in read only mode' });
      if (req.url.endsWith('/nf')) return json(res, 404, specExample('ErrorResourceNotFound'), rateHeaders(600, 42, Math.floor(now / 1000) + 30, now));
      if (req.url.endsWith('/html')) return void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
      if (req.url.endsWith('/factors/huge')) return json(res, 200, { id: 'huge', pad: 'x'.repeat(1_100_000) });
      json(res, 200, { id: '00u1', profile: { login: 'a' } });
    });
    const observed: Array<[Bucket, number, number | undefined, string | undefined]> = [];
    const gate: RequestGate = {
      run: (_bucket, fn) => fn(),
      observe(bucket, info, status, errorCode) {
        observed.push([bucket, status, info?.remaining, errorCode]);
      },
    };
    const c = makeClient({ gate });
    await expect(c.getUser('ro')).rejects.toMatchObject({ isReadOnly: true });
    await expect(c.getUser('nf')).rejects.toMatchObject({ errorCode: 'E0000007' });
    await expect(c.getUser('html')).rejects.toMatchObject({ errorCode: 'HTTP_502' });
    await c.getUser('ok');
    await expect(c.getFactor(U, 'huge')).rejects.toBeInstanceOf(OktaProtocolError);
    expect(observed).toEqual([
      ['users', 503, undefined, 'E0000010'],
      ['users', 404, 42, 'E0000007'],
      ['users', 502, undefined, undefined],
      ['users', 200, undefined, undefined],
      ['factors', 200, undefined, undefined],
    ]);
  });
});

describe('rate-limit headers that come twice over the wire', () => {
  it('the gate and the error see the most conservative reading', async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    org.handle((_req, res) => {
      res.setHeader('x-rate-limit-limit', ['1200', '600']);
      res.setHeader('x-rate-limit-remaining', ['0', '17']);
      res.setHeader('x-rate-limit-reset', [String(nowSec + 20), String(nowSec + 45)]);
      json(res, 429, specExample('ErrorTooManyRequests'));
    });
    const seen: Array<RateLimitInfo | undefined> = [];
    const c = makeClient({ gate: { run: (_b, fn) => fn(), observe: (_b, info) => void seen.push(info) } });
    const e = (await rejection(c.getUser('x'))) as OktaApiError;
    expect(seen[0]).toMatchObject({ limit: 600, remaining: 0, resetAtMs: (nowSec + 45) * 1000 });
    expect(e.rateLimit).toEqual(seen[0]);
    expect(e.rateLimitKind).toBe('bucket');
  });
});

describe('pagination', () => {
  it('follows rel="next" exactly as given for group members; logs keep next on an empty page', async () => {
    org.handle((req, res) => {
      if (req.url === '/api/v1/groups/00g1/users?limit=2')
        return json(res, 200, [{ id: 'u1', status: 'ACTIVE', profile: { login: 'a@x' } }, { id: 'u2', profile: { login: 'b@x' } }], {
          link: `<${org.origin}/api/v1/groups/00g1/users?limit=2>; rel="self", <${org.origin}/api/v1/groups/00g1/users?after=u2&limit=2&odd=%2F>; rel="next"`,
        });
      if (req.url === '/api/v1/groups/00g1/users?after=u2&limit=2&odd=%2F') return json(res, 200, [{ id: 'u3', profile: { login: 'c@x' } }]);
      if (req.url?.startsWith('/api/v1/logs'))
        return json(res, 200, [], { link: `<${org.origin}/api/v1/logs?after=abc&limit=100>; rel="next"` });
      if (req.url === '/api/v1/groups?q=Field%20Sales') return json(res, 200, [{ id: '00g9', profile: { name: 'Field Sales' } }]);
      json(res, 404, specExample('ErrorResourceNotFound'));
    });
    const c = makeClient();
    const first = await c.listGroupUsers({ groupId: '00g1' }, 2);
    expect(first.items).toEqual([
      { id: 'u1', login: 'a@x', status: 'ACTIVE' },
      { id: 'u2', login: 'b@x' },
    ]);
    const second = await c.listGroupUsers({ next: first.next! });
    expect(second).toEqual({ items: [{ id: 'u3', login: 'c@x' }] });
    const logs = await c.getLogs({ since: '2024-01-01T00:00:00.000Z', filter: 'eventType eq "user.mfa.factor.activate"', limit: 100 });
    expect(logs).toEqual({ items: [], next: `${org.origin}/api/v1/logs?after=abc&limit=100` });
    expect(new URL(org.requests[2]!.url, org.origin).searchParams.get('filter')).toBe('eventType eq "user.mfa.factor.activate"');
    expect(await c.findGroups('Field Sales')).toEqual([{ id: '00g9', name: 'Field Sales' }]);
  });

  it('reads System Log events', async () => {
    org.handle((_req, res) =>
      json(res, 200, [
        {
          uuid: 'e1',
          eventType: 'user.mfa.factor.activate',
          published: '2024-01-01T00:00:01.000Z',
          actor: { id: '00uA', type: 'User' },
          target: [
            { id: '00uB', type: 'User' },
            { id: 'opf1', type: 'Factor' },
          ],
        },
        { eventType: 'no uuid: skipped' },
      ]),
    );
    const c = makeClient();
    const page = await c.getLogs({ since: 'x' });
    expect(page.items).toEqual([
      {
        uuid: 'e1',
        eventType: 'user.mfa.factor.activate',
        published: '2024-01-01T00:00:01.000Z',
        actorId: '00uA',
        targetUserIds: ['00uB'],
        targets: [
          { id: '00uB', type: 'User' },
          { id: 'opf1', type: 'Factor' },
        ],
      },
    ]);
    expect(page.next).toBeUndefined();
  });
});
