/**
 * oauthAuth against plain local HTTP servers that record what they receive: the exact
 * token request (form fields, assertion claims and signature, kid), DPoP proof shape on
 * token and API requests, a persistent 401 (exactly one refresh), a 403 E0000006 under
 * OAuth (admin role), token endpoint failures (5xx, 429, redirect, refused), the early
 * refresh falling back to a still-valid token, and key loading errors.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { EmbeddedJWK, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadSigningKey, oauthAuth, type OAuthOptions } from '../../src/okta/auth-oauth.js';
import { createAuth } from '../../src/okta/auth.js';
import { createOktaClient } from '../../src/okta/client.js';
import { OktaApiError, OktaNetworkError } from '../../src/okta/errors.js';
import type { OktaClient } from '../../src/okta/types.js';
import { json, startCannedServer, type CannedServer, type RecordedRequest } from './helpers/canned-server.js';
import { failure } from './helpers/failure.js';

const CLIENT_ID = '0oaHttpTest000000001';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const RSA_PEM = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const EC_JWK = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-key-7' });

const servers: CannedServer[] = [];
const clients: OktaClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(): Promise<CannedServer> {
  const s = await startCannedServer();
  servers.push(s);
  return s;
}

function client(orgUrl: string, opts: Partial<OAuthOptions> = {}, warnings: string[] = []): { c: OktaClient; auth: ReturnType<typeof oauthAuth> } {
  const auth = oauthAuth({ orgUrl, clientId: CLIENT_ID, privateKey: RSA_PEM, scopes: ['okta.users.read', 'okta.users.manage'], warn: (m) => warnings.push(m), ...opts });
  const c = createOktaClient({ orgUrl, auth, timeoutMs: 3000 });
  clients.push(c);
  return { c, auth };
}

const USER = { id: '00u1', profile: { login: 'a@example.com' } };
let tokenCounter = 0;
function issue(res: Parameters<typeof json>[0], extra: Record<string, unknown> = {}): void {
  json(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: `at-${++tokenCounter}-abcdefghijkl`, scope: 'okta.users.read okta.users.manage', ...extra });
}

const isToken = (r: RecordedRequest) => r.url === '/oauth2/v1/token';


describe('the token request', () => {
  it('posts client_credentials with a signed, short-lived, unique assertion to <org>/oauth2/v1/token', async () => {
    const s = await server();
    s.handle((r, res) => (isToken(r) ? issue(res) : json(res, 200, USER)));
    const { c, auth } = client(s.origin, { keyId: 'my-kid' });
    await c.getUser('00u1');
    auth.invalidate();
    await c.getUser('00u1');
    const tokenRequests = s.requests.filter(isToken);
    expect(tokenRequests).toHaveLength(2);
    const jtis = new Set<string>();
    for (const r of tokenRequests) {
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(r.headers.authorization).toBeUndefined();
      const f = new URLSearchParams(r.body);
      expect([...f.keys()].sort()).toEqual(['client_assertion', 'client_assertion_type', 'grant_type', 'scope']);
      expect(f.get('grant_type')).toBe('client_credentials');
      expect(f.get('scope')).toBe('okta.users.read okta.users.manage');
      expect(f.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const a = f.get('client_assertion')!;
      expect(decodeProtectedHeader(a)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'my-kid' });
      const { payload } = await jwtVerify(a, rsa.publicKey, { issuer: CLIENT_ID, subject: CLIENT_ID, audience: `${s.origin}/oauth2/v1/token`, algorithms: ['RS256'] });
      expect(payload.exp! - payload.iat!).toBe(300);
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
      jtis.add(payload.jti!);
    }
    expect(jtis.size).toBe(2);
    // The API got the token as Bearer.
    const api = s.requests.filter((r) => !isToken(r));
    expect(api.map((r) => r.headers.authorization)).toEqual([`Bearer at-${tokenCounter - 1}-abcdefghijkl`, `Bearer at-${tokenCounter}-abcdefghijkl`]);
  });

  it('an ES256 JWK signs with ES256 and its own kid', async () => {
    const s = await server();
    s.handle((r, res) => (isToken(r) ? issue(res) : json(res, 200, USER)));
    const { c, auth } = client(s.origin, { privateKey: EC_JWK });
    expect(auth.algorithm).toBe('ES256');
    await c.getUser('00u1');
    const a = new URLSearchParams(s.requests[0]!.body).get('client_assertion')!;
    expect(decodeProtectedHeader(a)).toMatchObject({ alg: 'ES256', kid: 'ec-key-7' });
    await jwtVerify(a, ec.publicKey, { algorithms: ['ES256'] });
  });

  it('a persistent 401 → exactly one refresh and one retry, then the 401 is thrown', async () => {
    const s = await server();
    s.handle((r, res) =>
      isToken(r) ? issue(res) : json(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' }, { 'www-authenticate': 'Bearer error="invalid_token", error_description="The access token is invalid."' }),
    );
    const { c } = client(s.origin);
    const err = await failure(c.getUser('00u1'));
    expect(err).toBeInstanceOf(OktaApiError);
    expect((err as OktaApiError).status).toBe(401);
    expect((err as OktaApiError).causes).toEqual(['Bearer invalid_token: The access token is invalid.']);
    expect(s.requests.filter(isToken)).toHaveLength(2);
    expect(s.requests.filter((r) => !isToken(r))).toHaveLength(2);
  });

  it('a 403 E0000006 under OAuth says the service app needs an admin role, keeping the code', async () => {
    const s = await server();
    s.handle((r, res) => (isToken(r) ? issue(res) : json(res, 403, { errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action' })));
    const { c } = client(s.origin);
    const err = (await failure(c.enrollFactor('00u1', { factorType: 'push', provider: 'OKTA' }))) as OktaApiError;
    expect(err.errorCode).toBe('E0000006');
    expect(err.errorSummary).toContain('the service app needs an admin role allowed to POST /api/v1/users/{userId}/factors');
  });

  it('a 403 insufficient_scope under the DPoP scheme is read the same way', async () => {
    const s = await server();
    s.handle((r, res) =>
      isToken(r) ? issue(res) : json(res, 403, { errorCode: 'E0000006', errorSummary: 'nope' }, { 'www-authenticate': 'DPoP algs="ES256", error="insufficient_scope", scope="okta.users.manage"' }),
    );
    const { c } = client(s.origin);
    const err = (await failure(c.deleteFactor('00u1', 'ufs9'))) as OktaApiError;
    expect(err.errorCode).toBe('INSUFFICIENT_SCOPE');
    expect(err.errorSummary).toContain('scope okta.users.manage for DELETE /api/v1/users/{userId}/factors/{factorId}');
  });

  it('token endpoint 5xx → a server error to retry; 429 → a rate limit with its reset', async () => {
    const s = await server();
    s.handle((_r, res) => json(res, 503, { errorCode: 'E0000009', errorSummary: 'Service Unavailable' }));
    const { c } = client(s.origin);
    const e1 = (await failure(c.getUser('00u1'))) as OktaApiError;
    expect([e1.status, e1.isServerError, e1.path]).toEqual([503, true, '/oauth2/v1/token']);
    const reset = Math.ceil(Date.now() / 1000) + 30;
    s.handle((_r, res) => json(res, 429, { errorCode: 'E0000047', errorSummary: 'rate limit' }, { 'x-rate-limit-limit': '100', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) }));
    const e2 = (await failure(c.getUser('00u1'))) as OktaApiError;
    expect([e2.status, e2.isRateLimit, e2.rateLimitKind]).toEqual([429, true, 'bucket']);
    expect(e2.rateLimit?.resetAtMs).toBe(reset * 1000);
  });

  it('a redirect from the token endpoint is not followed', async () => {
    const s = await server();
    const elsewhere = await server();
    s.handle((_r, res) => json(res, 302, undefined, { location: `${elsewhere.origin}/oauth2/v1/token` }));
    const { c } = client(s.origin);
    const err = (await failure(c.getUser('00u1'))) as OktaApiError;
    expect(err.status).toBe(302);
    expect(elsewhere.connections).toBe(0);
  });

  it('a refused connection → OktaNetworkError not processed', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const { c } = client(`http://127.0.0.1:${port}`);
    const err = await failure(c.getUser('00u1'));
    expect(err).toBeInstanceOf(OktaNetworkError);
    expect((err as OktaNetworkError).maybeProcessed).toBe(false);
    expect((err as OktaNetworkError).path).toBe('/oauth2/v1/token');
  });

  it('an early refresh that fails keeps using the still-valid token, and says so once per retry window', async () => {
    const s = await server();
    let now = Date.now();
    s.handle((r, res) => (isToken(r) ? issue(res, { expires_in: 100 }) : json(res, 200, USER)));
    const warnings: string[] = [];
    const { c } = client(s.origin, { now: () => now }, warnings);
    await c.getUser('00u1');
    const first = s.requests.at(-1)!.headers.authorization;
    s.handle((r, res) => (isToken(r) ? json(res, 500, { errorCode: 'E0000009', errorSummary: 'Internal' }) : json(res, 200, USER)));
    now += 85_000; // past 80% of 100 s, 15 s left
    await c.getUser('00u1');
    await c.getUser('00u1');
    expect(s.requests.filter((r) => !isToken(r)).map((r) => r.headers.authorization)).toEqual([first, first, first]);
    expect(s.requests.filter(isToken)).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Could not renew the OAuth access token early');
    now += 14_000; // inside the last 5 s: the token is no longer sent
    const err = (await failure(c.getUser('00u1'))) as OktaApiError;
    expect(err.path).toBe('/oauth2/v1/token');
  });
});

describe('DPoP proofs', () => {
  it('token and API requests carry proofs of the right shape; the token nonce is learned from a 400', async () => {
    const s = await server();
    s.handle((r, res) => {
      if (isToken(r)) {
        const proofNonce = (r.headers.dpop as string) && JSON.parse(Buffer.from((r.headers.dpop as string).split('.')[1]!, 'base64url').toString()).nonce;
        if (proofNonce !== 'n-1') return json(res, 400, { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof.' }, { 'dpop-nonce': 'n-1' });
        return issue(res, { token_type: 'DPoP' });
      }
      json(res, 200, USER);
    });
    const { c } = client(s.origin, { dpop: true });
    await c.getUser('00u1');
    await c.getUser('00u1');
    const tokenReqs = s.requests.filter(isToken);
    expect(tokenReqs).toHaveLength(2);
    const a1 = new URLSearchParams(tokenReqs[0]!.body).get('client_assertion');
    const a2 = new URLSearchParams(tokenReqs[1]!.body).get('client_assertion');
    expect(a1).not.toBe(a2); // a new assertion (new jti) for the retry
    const thumbprints = new Set<string>();
    const jtis = new Set<string>();
    for (const r of s.requests) {
      const proof = r.headers.dpop as string;
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
      expect(protectedHeader.jwk).not.toHaveProperty('d');
      thumbprints.add(JSON.stringify(protectedHeader.jwk));
      jtis.add(payload.jti!);
      expect(payload.htm).toBe(r.method);
      expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
      if (isToken(r)) {
        expect(payload.htu).toBe(`${s.origin}/oauth2/v1/token`);
        expect(payload.ath).toBeUndefined();
      } else {
        const token = (r.headers.authorization as string).replace(/^DPoP /, '');
        expect(r.headers.authorization).toMatch(/^DPoP at-/);
        expect(payload.htu).toBe(`${s.origin}/api/v1/users/00u1`);
        expect(payload.ath).toBe(createHash('sha256').update(token).digest('base64url'));
      }
    }
    expect(thumbprints.size).toBe(1);
    expect(jtis.size).toBe(s.requests.length);
  });

  it('a resource 401 use_dpop_nonce is retried once with the nonce, without a new token', async () => {
    const s = await server();
    s.handle((r, res) => {
      if (isToken(r)) return issue(res, { token_type: 'DPoP' });
      const nonce = JSON.parse(Buffer.from((r.headers.dpop as string).split('.')[1]!, 'base64url').toString()).nonce;
      if (nonce !== 'rs-1') return json(res, 401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' }, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'rs-1' });
      json(res, 200, USER);
    });
    const { c, auth } = client(s.origin, { dpop: true });
    await c.getUser('00u1');
    await c.getUser('00u1');
    expect(auth.tokenRequests).toBe(1);
    expect(s.requests.filter((r) => !isToken(r)).length).toBe(3);
  });
});

describe('keys and settings', () => {
  it('refuses public keys, weak RSA, other curves and garbage with messages that carry no key material', () => {
    const pub = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const p384 = JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' }));
    const badPem = '-----BEGIN PRIVATE KEY-----\nAAAAsecretish0123456789\n-----END PRIVATE KEY-----';
    const cases: Array<[string, RegExp]> = [
      [pub, /expected a PEM private key|could not read|expected a private key/],
      [weak, /at least 2048 bits, got 1024 bits/],
      [p384, /curve P-256 \(ES256\), got curve secp384r1/],
      ['{not json', /not valid JSON/],
      ['hello', /neither PEM nor JWK/],
      [badPem, /could not read the private key from PEM text/],
    ];
    for (const [input, re] of cases) {
      let err: unknown;
      try {
        loadSigningKey(input);
      } catch (e) {
        err = e;
      }
      expect(err, input.slice(0, 30)).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).message;
      expect(text).toMatch(re);
      expect(text).not.toContain('secretish');
      if (input.length > 80) expect(text).not.toContain(input.slice(40, 80));
    }
  });

  it('oauthAuth lists every bad option together', () => {
    let err: unknown;
    try {
      oauthAuth({ orgUrl: 'https://example.okta.com', clientId: 'has space', privateKey: 'nope', scopes: ['ok', 'bad scope'], timeoutMs: -1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/clientId: .*"has space"[\s\S]*scopes: .*"bad scope"[\s\S]*timeoutMs[\s\S]*privateKey/);
  });

  it('createAuth registers the key material and each access token as secrets', async () => {
    const s = await server();
    s.handle((r, res) => (isToken(r) ? issue(res) : json(res, 200, USER)));
    const secrets: string[] = [];
    const auth = createAuth(
      { orgUrl: s.origin, authMode: 'oauth', oauth: { clientId: CLIENT_ID, privateKey: EC_JWK, scopes: ['okta.users.read'], dpop: false } },
      { onSecret: (x) => secrets.push(x) },
    );
    expect(auth.kind).toBe('oauth');
    expect(secrets).toContain(JSON.parse(EC_JWK).d);
    const c = createOktaClient({ orgUrl: s.origin, auth });
    clients.push(c);
    await c.getUser('00u1');
    expect(secrets).toContain(`at-${tokenCounter}-abcdefghijkl`);
    expect(auth.secrets()).toEqual([`at-${tokenCounter}-abcdefghijkl`]);
    const ssws: string[] = [];
    expect(createAuth({ orgUrl: s.origin, authMode: 'ssws', token: 'tok-1234567' }, { onSecret: (x) => ssws.push(x) }).kind).toBe('ssws');
    expect(ssws).toEqual(['tok-1234567']);
  });
});
