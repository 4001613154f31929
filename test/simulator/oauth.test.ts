/**
 * The simulator's authorization server, called directly with assertions and DPoP proofs
 * made here with jose (no bulk-enroll client code): what it accepts and what it refuses,
 * scopes per endpoint, token TTL, the token bucket, DPoP binding and nonces, the CLI flags.
 */
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWK } from 'jose';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { optionsFromFlags } from '../../src/commands/simulator.js';
import { ConfigError } from '../../src/errors.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/simulator/index.js';

const CLIENT_ID = '0oaSimTest0000000001';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPublicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
const ecPublicJwk = JSON.stringify(ec.publicKey.export({ format: 'jwk' }));

let sim: SimulatorHandle | undefined;
let pool: Pool | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await pool?.destroy();
  await sim?.close();
  pool = undefined;
  sim = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function start(opts: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
  sim = await startSimulator({ users: 5, seed: 9, oauthClientId: CLIENT_ID, oauthPublicKey: rsaPublicPem, ...opts });
  pool = new Pool(sim.url, { connections: 4 });
  return sim;
}

async function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const res = await pool!.request({ method: method as 'GET', path, headers: { accept: 'application/json', ...headers }, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const tokenUrl = () => `${sim!.url}/oauth2/v1/token`;

async function assertion(claims: Record<string, unknown> = {}, key: KeyObject = rsa.privateKey, alg = 'RS256'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const base = { iss: CLIENT_ID, sub: CLIENT_ID, aud: tokenUrl(), iat: now, exp: now + 300, jti: randomUUID() };
  return new SignJWT({ ...base, ...claims } as Record<string, unknown>).setProtectedHeader({ alg }).sign(key);
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function requestToken(a: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Answer> {
  return call(
    'POST',
    '/oauth2/v1/token',
    { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    form({
      grant_type: 'client_credentials',
      scope: 'okta.users.read okta.users.manage',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: a,
      ...extra,
    }),
  );
}

const dpopKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const dpopJwk = dpopKey.publicKey.export({ format: 'jwk' }) as JWK;

async function proof(htm: string, htu: string, extra: Record<string, unknown> = {}, key: KeyObject = dpopKey.privateKey, jwk: JWK = dpopJwk): Promise<string> {
  return new SignJWT({ htm, htu, jti: randomUUID(), ...extra })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .sign(key);
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

describe('token endpoint: client assertions', () => {
  it('a valid RS256 assertion → an opaque Bearer token with requested ∩ allowed scopes and the TTL', async () => {
    const s = await start({ oauthScopes: ['okta.users.read', 'okta.groups.read'], oauthTokenTtlMs: 90_000 });
    const a = await requestToken(await assertion());
    expect(a.status).toBe(200);
    expect(a.body.token_type).toBe('Bearer');
    expect(a.body.scope).toBe('okta.users.read');
    expect(a.body.expires_in).toBe(90);
    expect(typeof a.body.access_token).toBe('string');
    expect(a.body.access_token.split('.')).toHaveLength(1); // opaque, not a JWT
    expect(a.headers['cache-control']).toBe('no-store');
    expect(a.headers['x-rate-limit-limit']).toBeDefined();
    const st = s.stats();
    expect(st.tokenRequests).toBe(1);
    expect(st.oauth?.tokensIssued).toBe(1);
    expect(st.requests.byRoute['POST /oauth2/v1/token']).toBe(1);
    expect(JSON.stringify(st)).not.toContain(a.body.access_token);
    expect(JSON.stringify(s.requests())).not.toContain(a.body.access_token);
  });

  it('an ES256 key given as JWK verifies ES256 assertions and refuses RS256 ones', async () => {
    await start({ oauthPublicKey: ecPublicJwk });
    expect((await requestToken(await assertion({}, ec.privateKey, 'ES256'))).status).toBe(200);
    const wrongAlg = await requestToken(await assertion());
    expect(wrongAlg.status).toBe(401);
    expect(wrongAlg.body.error).toBe('invalid_client');
  });

  it('a reused jti is refused, a fresh one accepted', async () => {
    const s = await start();
    const jti = randomUUID();
    expect((await requestToken(await assertion({ jti }))).status).toBe(200);
    const again = await requestToken(await assertion({ jti }));
    expect(again.status).toBe(401);
    expect(again.body).toEqual({ error: 'invalid_client', error_description: expect.stringContaining('already been used') });
    // The very same assertion text, replayed:
    const same = await assertion();
    expect((await requestToken(same)).status).toBe(200);
    expect((await requestToken(same)).body.error).toBe('invalid_client');
    expect(s.stats().oauth?.tokenErrors).toEqual({ invalid_client: 2 });
  });

  it('exp more than one hour ahead, exp in the past, no jti, no exp are refused', async () => {
    await start();
    const now = Math.floor(Date.now() / 1000);
    const far = await requestToken(await assertion({ exp: now + 3600 + 120 }));
    expect(far.status).toBe(401);
    expect(far.body.error_description).toContain('expiration too far into the future');
    const hourOk = await requestToken(await assertion({ exp: now + 3590 }));
    expect(hourOk.status).toBe(200);
    const past = await requestToken(await assertion({ exp: now - 10 }));
    expect(past.body.error_description).toContain('expired');
    const noJti = await requestToken(await assertion({ jti: undefined }));
    expect(noJti.body.error_description).toContain("'jti'");
    const noExp = await requestToken(await assertion({ exp: undefined }));
    expect(noExp.status).toBe(401);
    expect(noExp.body.error).toBe('invalid_client');
  });

  it('wrong iss / sub / aud, another key, an unsigned token are refused as invalid_client', async () => {
    await start();
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['iss', assertion({ iss: 'someone' }), /'iss' and 'sub'/],
      ['sub', assertion({ sub: 'someone' }), /'iss' and 'sub'/],
      ['aud', assertion({ aud: 'https://elsewhere.example.com/oauth2/v1/token' }), /audience/],
      ['key', assertion({}, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), /signature is invalid/],
    ];
    for (const [name, a, re] of cases) {
      const answer = await requestToken(await a);
      expect(answer.status, name).toBe(401);
      expect(answer.body.error, name).toBe('invalid_client');
      expect(answer.body.error_description, name).toMatch(re);
    }
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ iss: CLIENT_ID, sub: CLIENT_ID, aud: tokenUrl(), exp: 9e9, jti: 'x' })).toString('base64url');
    const unsigned = await requestToken(`${header}.${payload}.`);
    expect(unsigned.body.error).toBe('invalid_client');
  });

  it('grant type, assertion type, content type and scope are checked', async () => {
    await start({ oauthScopes: ['okta.logs.read'] });
    expect((await requestToken(await assertion(), { grant_type: 'password' })).body.error).toBe('unsupported_grant_type');
    expect((await requestToken(await assertion(), { client_assertion_type: 'secret' })).body.error).toBe('invalid_client');
    const noScope = await requestToken(await assertion(), { scope: '' });
    expect([noScope.status, noScope.body.error]).toEqual([400, 'invalid_scope']);
    const notGranted = await requestToken(await assertion());
    expect(notGranted.body.error_description).toContain('okta.users.read okta.users.manage');
    const json = await call('POST', '/oauth2/v1/token', { 'content-type': 'application/json' }, '{}');
    expect([json.status, json.body.error]).toEqual([400, 'invalid_request']);
    const get = await call('GET', '/oauth2/v1/token', {});
    expect(get.status).toBe(405);
  });

  it('has its own bucket: a spent token budget does not touch the API buckets', async () => {
    const s = await start({ oauthRateLimit: 2, rateWindowMs: 60_000 });
    expect((await requestToken(await assertion())).status).toBe(200);
    const second = await requestToken(await assertion());
    const third = await requestToken(await assertion());
    expect(third.status).toBe(429);
    expect(third.headers['x-rate-limit-remaining']).toBe('0');
    const api = await call('GET', '/api/v1/users/' + s.users()[0]!.id, { authorization: `Bearer ${second.body.access_token}` });
    expect(api.status).toBe(200);
    expect(api.headers['x-rate-limit-limit']).toBe('600');
    expect(s.stats().byBucket.oauth?.rateLimited).toBe(1);
  });

  it('without a configured app, the token endpoint answers invalid_client', async () => {
    sim = await startSimulator({ users: 1 });
    pool = new Pool(sim.url);
    const a = await requestToken('x.y.z');
    expect([a.status, a.body.error]).toEqual([401, 'invalid_client']);
  });
});

describe('API with access tokens', () => {
  async function token(scope: string): Promise<string> {
    const a = await requestToken(await assertion(), { scope });
    expect(a.status).toBe(200);
    return a.body.access_token as string;
  }

  it('scopes per endpoint, as the spec says; the 403 names the scope in WWW-Authenticate', async () => {
    const s = await start();
    const uid = s.users()[0]!.id;
    const read = await token('okta.users.read');
    const manage = await token('okta.users.manage');
    const bearer = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
    const push = JSON.stringify({ factorType: 'push', provider: 'OKTA' });

    expect((await call('GET', `/api/v1/users/${uid}`, bearer(read))).status).toBe(200);
    expect((await call('GET', `/api/v1/users/${uid}/factors`, bearer(read))).status).toBe(200);
    const denied = await call('POST', `/api/v1/users/${uid}/factors`, bearer(read), push);
    expect(denied.status).toBe(403);
    expect(denied.body.errorCode).toBe('E0000006');
    expect(denied.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", scope="okta.users.manage"',
    );
    const enrolled = await call('POST', `/api/v1/users/${uid}/factors`, bearer(manage), push);
    expect(enrolled.status).toBe(200);
    const fid = enrolled.body.id as string;
    const getWithManage = await call('GET', `/api/v1/users/${uid}/factors/${fid}`, bearer(manage));
    expect(getWithManage.headers['www-authenticate']).toContain('scope="okta.users.read"');
    expect((await call('POST', `/api/v1/users/${uid}/factors/${fid}/lifecycle/activate/poll`, bearer(manage))).status).toBe(200);
    expect((await call('POST', `/api/v1/users/${uid}/factors/${fid}/lifecycle/activate/poll`, bearer(read))).status).toBe(403);
    expect((await call('DELETE', `/api/v1/users/${uid}/factors/${fid}`, bearer(read))).status).toBe(403);
    expect((await call('GET', '/api/v1/groups', bearer(read))).headers['www-authenticate']).toContain('scope="okta.groups.read"');
    expect((await call('GET', '/api/v1/logs', bearer(read))).headers['www-authenticate']).toContain('scope="okta.logs.read"');
    expect((await call('GET', '/api/v1/logs', bearer(await token('okta.logs.read')))).status).toBe(200);
    // SSWS still works beside OAuth.
    expect((await call('GET', `/api/v1/users/${uid}`, { authorization: 'SSWS any-token' })).status).toBe(200);
    expect(s.stats().oauth?.apiRejections.insufficient_scope).toBe(6);
  });

  it('unknown, expired and revoked tokens → 401 E0000011 with WWW-Authenticate', async () => {
    const s = await start({ oauthTokenTtlMs: 150 });
    const uid = s.users()[0]!.id;
    const unknown = await call('GET', `/api/v1/users/${uid}`, { authorization: 'Bearer sim_at_not-issued' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.errorCode).toBe('E0000011');
    expect(unknown.headers['www-authenticate']).toContain('error="invalid_token"');
    const t = await token('okta.users.read');
    expect((await call('GET', `/api/v1/users/${uid}`, { authorization: `Bearer ${t}` })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    const expired = await call('GET', `/api/v1/users/${uid}`, { authorization: `Bearer ${t}` });
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('expired');
    const t2 = await token('okta.users.read');
    expect(s.revokeTokens()).toBe(1);
    expect((await call('GET', `/api/v1/users/${uid}`, { authorization: `Bearer ${t2}` })).status).toBe(401);
    expect(s.stats().oauth?.apiRejections).toEqual({ invalid_token: 2, expired_token: 1 });
  });
});

describe('DPoP', () => {
  async function dpopToken(): Promise<{ token: string; nonce: string }> {
    const first = await requestToken(await assertion(), {}, { dpop: await proof('POST', tokenUrl()) });
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toBeTruthy();
    const second = await requestToken(await assertion(), {}, { dpop: await proof('POST', tokenUrl(), { nonce }) });
    expect(second.status).toBe(200);
    expect(second.body.token_type).toBe('DPoP');
    return { token: second.body.access_token as string, nonce };
  }

  it('token requests need a proof, then the nonce; the token is bound to the proof key', async () => {
    const s = await start({ oauthDpop: true });
    const missing = await requestToken(await assertion());
    expect([missing.status, missing.body.error]).toEqual([400, 'invalid_dpop_proof']);
    const wrongHtu = await requestToken(await assertion(), {}, { dpop: await proof('POST', `${s.url}/oauth2/v1/other`) });
    expect(wrongHtu.body.error).toBe('invalid_dpop_proof');
    const { token } = await dpopToken();
    const uid = s.users()[0]!.id;
    const url = `${s.url}/api/v1/users/${uid}`;

    // First API call without the resource nonce → 401 use_dpop_nonce + DPoP-Nonce.
    const noNonce = await call('GET', `/api/v1/users/${uid}`, { authorization: `DPoP ${token}`, dpop: await proof('GET', url, { ath: ath(token) }) });
    expect(noNonce.status).toBe(401);
    expect(noNonce.headers['www-authenticate']).toContain('DPoP error="use_dpop_nonce"');
    const rnonce = noNonce.headers['dpop-nonce'] as string;
    expect(rnonce).toBeTruthy();

    const ok = await call('GET', `/api/v1/users/${uid}?x=1`, { authorization: `DPoP ${token}`, dpop: await proof('GET', url, { ath: ath(token), nonce: rnonce }) });
    expect(ok.status).toBe(200);

    const refusals: Array<[string, Record<string, string>]> = [
      ['Bearer scheme', { authorization: `Bearer ${token}` }],
      ['no proof', { authorization: `DPoP ${token}` }],
      ['wrong ath', { authorization: `DPoP ${token}`, dpop: await proof('GET', url, { ath: ath('other'), nonce: rnonce }) }],
      ['wrong htm', { authorization: `DPoP ${token}`, dpop: await proof('POST', url, { ath: ath(token), nonce: rnonce }) }],
      ['query in htu', { authorization: `DPoP ${token}`, dpop: await proof('GET', `${url}?x=1`, { ath: ath(token), nonce: rnonce }) }],
    ];
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    refusals.push([
      'another key',
      { authorization: `DPoP ${token}`, dpop: await proof('GET', url, { ath: ath(token), nonce: rnonce }, other.privateKey, other.publicKey.export({ format: 'jwk' }) as JWK) },
    ]);
    for (const [name, headers] of refusals) {
      const a = await call('GET', `/api/v1/users/${uid}`, headers);
      expect(a.status, name).toBe(401);
      expect(a.body.errorCode, name).toBe('E0000011');
    }
    // A proof replayed (same jti) is refused.
    const once = await proof('GET', url, { ath: ath(token), nonce: rnonce });
    expect((await call('GET', `/api/v1/users/${uid}`, { authorization: `DPoP ${token}`, dpop: once })).status).toBe(200);
    expect((await call('GET', `/api/v1/users/${uid}`, { authorization: `DPoP ${token}`, dpop: once })).status).toBe(401);

    // After a rotation the old nonce is refused with a new one.
    s.rotateDpopNonces();
    const stale = await call('GET', `/api/v1/users/${uid}`, { authorization: `DPoP ${token}`, dpop: await proof('GET', url, { ath: ath(token), nonce: rnonce }) });
    expect(stale.status).toBe(401);
    expect(stale.headers['dpop-nonce']).not.toBe(rnonce);
    expect(s.stats().tokenRequests).toBe(4);
  });
});

describe('options and flags', () => {
  it('resolveOptions lists OAuth problems together', async () => {
    await expect(startSimulator({ oauthClientId: CLIENT_ID, oauthTokenTtlMs: 0, oauthScopes: [] })).rejects.toThrow(ConfigError);
    try {
      await startSimulator({ oauthClientId: CLIENT_ID, oauthTokenTtlMs: 0, oauthScopes: [] });
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toContain('`oauthClientId` and `oauthPublicKey` together');
      expect(problems).toContain('`oauthTokenTtlMs`');
      expect(problems).toContain('`oauthScopes`');
    }
    await expect(startSimulator({ oauthClientId: CLIENT_ID, oauthPublicKey: 'not a key' })).rejects.toThrow(/oauthPublicKey/);
  });

  it('--oauth-public-key reads a PEM or JWK file; --oauth-scopes takes spaces or commas', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-oauth-'));
    dirs.push(dir);
    const file = join(dir, 'app.jwk.json');
    writeFileSync(file, ecPublicJwk);
    const partial = await optionsFromFlags({
      oauthClientId: CLIENT_ID,
      oauthPublicKey: file,
      oauthScopes: 'okta.users.read, okta.users.manage',
      oauthTokenTtlMs: '5000',
      oauthDpop: true,
    });
    expect(partial.oauthPublicKey).toBe(ecPublicJwk);
    expect(partial.oauthScopes).toEqual(['okta.users.read', 'okta.users.manage']);
    expect(partial.oauthTokenTtlMs).toBe(5000);
    expect(partial.oauthDpop).toBe(true);
    await expect(optionsFromFlags({ oauthClientId: CLIENT_ID, oauthPublicKey: join(dir, 'missing.pem') })).rejects.toThrow(/--oauth-public-key: cannot read/);
    await expect(optionsFromFlags({ oauthDpop: true })).rejects.toThrow(/--oauth-dpop/);
  });
});
