/**
 * OAuth 2.0 service-app authentication end to end: the Okta client (src/okta) with
 * oauthAuth against the real simulator (src/simulator) on 127.0.0.1, keys generated
 * here with node:crypto (RSA → RS256, EC P-256 → ES256, as PEM and as JWK).
 * Token reuse, refresh before expiry, 401 → one refresh, insufficient scope, DPoP with
 * the nonce dance, and no credential in any error message.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { oauthAuth, DEFAULT_SCOPES, type OAuthOptions, type OAuthProvider } from '../../src/okta/auth-oauth.js';
import { createOktaClient } from '../../src/okta/client.js';
import { OktaApiError } from '../../src/okta/errors.js';
import type { OktaClient } from '../../src/okta/types.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/simulator/index.js';

const CLIENT_ID = '0oa1serviceapp0000001';

interface TestKey {
  alg: 'RS256' | 'ES256';
  privatePem: string;
  privateJwkText: string;
  publicPem: string;
  publicJwkText: string;
  /** Private material that must never show up anywhere. */
  secrets: string[];
}

function makeKey(alg: 'RS256' | 'ES256'): TestKey {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv: KeyObject = pair.privateKey;
  const privateJwk = priv.export({ format: 'jwk' });
  const privatePem = priv.export({ format: 'pem', type: 'pkcs8' }).toString();
  const pemBody = privatePem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return {
    alg,
    privatePem,
    privateJwkText: JSON.stringify({ ...privateJwk, kid: `kid-${alg}` }),
    publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicJwkText: JSON.stringify(pair.publicKey.export({ format: 'jwk' })),
    secrets: [pemBody.slice(20, 60), String(privateJwk.d)],
  };
}

const RSA = makeKey('RS256');
const EC = makeKey('ES256');

let sim: SimulatorHandle | undefined;
const clients: OktaClient[] = [];
const warnings: string[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sim?.close();
  sim = undefined;
  warnings.length = 0;
});

async function setup(
  key: TestKey,
  simOpts: Partial<SimulatorOptions> = {},
  authOpts: Partial<OAuthOptions> = {},
): Promise<{ sim: SimulatorHandle; client: OktaClient; auth: OAuthProvider }> {
  sim = await startSimulator({ users: 10, seed: 3, oauthClientId: CLIENT_ID, oauthPublicKey: key.publicPem, activateRatio: 0, ...simOpts });
  const auth = oauthAuth({
    orgUrl: sim.url,
    clientId: CLIENT_ID,
    privateKey: key.privatePem,
    scopes: DEFAULT_SCOPES,
    warn: (m) => warnings.push(m),
    ...authOpts,
  });
  const client = createOktaClient({ orgUrl: sim.url, auth, timeoutMs: 5_000, warn: (m) => warnings.push(m) });
  clients.push(client);
  return { sim, client, auth };
}

function firstUserId(s: SimulatorHandle): string {
  const u = s.users()[0];
  if (!u) throw new Error('the simulator has no users');
  return u.id;
}

async function rejection(p: Promise<unknown>): Promise<OktaApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OktaApiError) return err;
    throw err;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** Everything an error could carry into a log line. */
function exposed(err: unknown): string {
  const e = err as Error & Record<string, unknown>;
  return [e.message, e.stack ?? '', JSON.stringify(e), String(e)].join('\n');
}

describe.each([
  ['RS256 key as PEM', RSA, RSA.privatePem],
  ['ES256 key as JWK', EC, EC.privateJwkText],
])('%s', (_name, key, privateKey) => {
  it('gets one token and shares it across many concurrent requests', async () => {
    const { sim: s, client, auth } = await setup(key, {}, { privateKey });
    expect(auth.algorithm).toBe(key.alg);
    const uid = firstUserId(s);
    // 40 requests start before any token exists: they must wait for the same one.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? client.getUser(uid) : client.listFactors(uid))));
    expect(results).toHaveLength(40);
    const enrolled = await client.enrollFactor(uid, { factorType: 'push', provider: 'OKTA' });
    expect(enrolled.state).toBe('waiting');
    const stats = s.stats();
    expect(stats.tokenRequests).toBe(1);
    expect(auth.tokenRequests).toBe(1);
    expect(stats.requests.byStatus['200']).toBe(42); // 41 API calls + 1 token
    expect(stats.requests.byStatus['401']).toBeUndefined();
    expect(auth.grantedScopes?.sort()).toEqual([...DEFAULT_SCOPES].sort());
    // The simulator saw only access tokens on the API, never the SSWS scheme.
    expect(s.requests().filter((r) => r.path.startsWith('/api/')).every((r) => r.authorized && r.status === 200)).toBe(true);
  });
});

describe('token lifetime', () => {
  it('replaces the token before it expires (short TTL), without a 401', async () => {
    const { sim: s, client, auth } = await setup(EC, { oauthTokenTtlMs: 600 });
    const uid = firstUserId(s);
    await client.getUser(uid);
    await client.getUser(uid);
    expect(s.stats().tokenRequests).toBe(1);
    // 80% of 600 ms: after ~480 ms the next request brings a new token.
    await new Promise((r) => setTimeout(r, 520));
    await client.getUser(uid);
    expect(s.stats().tokenRequests).toBe(2);
    await new Promise((r) => setTimeout(r, 700));
    await Promise.all([client.getUser(uid), client.getUser(uid), client.getUser(uid)]);
    expect(s.stats().tokenRequests).toBe(3);
    expect(auth.tokenRequests).toBe(3);
    expect(s.stats().requests.byStatus['401']).toBeUndefined();
  });

  it('a 401 (token revoked) → one refresh shared by the concurrent requests, then each retries once', async () => {
    const { sim: s, client } = await setup(RSA);
    const uid = firstUserId(s);
    await client.getUser(uid);
    expect(s.revokeTokens()).toBe(1);
    const users = await Promise.all(Array.from({ length: 8 }, () => client.getUser(uid)));
    expect(users.every((u) => u.id === uid)).toBe(true);
    const stats = s.stats();
    expect(stats.tokenRequests).toBe(2);
    expect(stats.requests.byStatus['401']).toBe(8);
    expect(stats.oauth?.apiRejections.invalid_token).toBe(8);
  });

  it('a token the simulator expired early → 401 → refresh → the request succeeds', async () => {
    // The token lives 300 ms but the client is told it lives far longer (its clock runs slow).
    let skew = 0;
    const { sim: s, client, auth } = await setup(EC, { oauthTokenTtlMs: 300 }, { now: () => Date.now() - skew });
    const uid = firstUserId(s);
    await client.getUser(uid);
    skew = 10_000; // the client's clock falls 10 s behind: it believes the token is fresh
    await new Promise((r) => setTimeout(r, 350));
    await client.getUser(uid);
    expect(auth.tokenRequests).toBe(2);
    expect(s.stats().oauth?.apiRejections.expired_token).toBe(1);
  });
});

describe('scopes and refusals', () => {
  it('a missing scope → INSUFFICIENT_SCOPE naming the scope and the endpoint; granted scopes still work', async () => {
    const { sim: s, client, auth } = await setup(RSA, { oauthScopes: ['okta.users.read', 'okta.logs.read'] });
    const uid = firstUserId(s);
    expect((await client.getUser(uid)).id).toBe(uid);
    expect(auth.grantedScopes?.sort()).toEqual(['okta.logs.read', 'okta.users.read']);

    const enroll = await rejection(client.enrollFactor(uid, { factorType: 'push', provider: 'OKTA' }));
    expect(enroll.status).toBe(403);
    expect(enroll.errorCode).toBe('INSUFFICIENT_SCOPE');
    expect(enroll.errorSummary).toContain('the service app lacks scope okta.users.manage for POST /api/v1/users/{userId}/factors');
    expect(enroll.message).toContain(`POST /api/v1/users/${uid}/factors → 403 INSUFFICIENT_SCOPE`);

    const groups = await rejection(client.findGroups('Eng'));
    expect(groups.errorCode).toBe('INSUFFICIENT_SCOPE');
    expect(groups.errorSummary).toContain('okta.groups.read for GET /api/v1/groups');
    // A 403 is not a credentials problem: no token refresh was attempted.
    expect(s.stats().tokenRequests).toBe(1);
  });

  it('a signature from another key → invalid_client from the token endpoint, with nothing secret in the error', async () => {
    const { sim: s, client, auth } = await setup(RSA, { oauthPublicKey: EC.publicJwkText }, { privateKey: RSA.privateJwkText });
    const err = await rejection(client.getUser(firstUserId(s)));
    expect(err.status).toBe(401);
    expect(err.errorCode).toBe('invalid_client');
    expect(err.path).toBe('/oauth2/v1/token');
    expect(err.errorSummary).toContain(`the token endpoint refused the service app ${CLIENT_ID}`);
    expect(err.errorSummary).toMatch(/must be signed with ES256/);
    expect(auth.secrets()).toEqual([]);
    const text = exposed(err);
    for (const secret of RSA.secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\./); // no JWT (assertion) either
    // The API itself was never called without a token.
    expect(s.requests().filter((r) => r.path.startsWith('/api/'))).toEqual([]);
  });

  it('an unknown client id → invalid_client naming the claim problem', async () => {
    const { sim: s, client } = await setup(EC, {}, { clientId: '0oaSomeoneElse' });
    const err = await rejection(client.getUser(firstUserId(s)));
    expect(err.errorCode).toBe('invalid_client');
    expect(err.errorSummary).toContain("'iss' and 'sub' claims must both be the client_id");
  });

  it('no requested scope granted → invalid_scope listing what was asked for', async () => {
    const { sim: s, client } = await setup(EC, { oauthScopes: ['okta.logs.read'] }, { scopes: ['okta.users.manage'] });
    const err = await rejection(client.getUser(firstUserId(s)));
    expect(err.status).toBe(400);
    expect(err.errorCode).toBe('invalid_scope');
    expect(err.errorSummary).toContain('(requested: okta.users.manage;');
  });

  it('no access token, assertion or key in any error, warning or the simulator request log', async () => {
    const { sim: s, client, auth } = await setup(RSA, { oauthScopes: ['okta.users.read'], oauthTokenTtlMs: 200 });
    const uid = firstUserId(s);
    const errors: unknown[] = [];
    errors.push(await rejection(client.enrollFactor(uid, { factorType: 'push', provider: 'OKTA' })));
    await new Promise((r) => setTimeout(r, 250));
    errors.push(await rejection(client.deleteFactor(uid, 'ufsNope')));
    s.revokeTokens();
    errors.push(await rejection(client.getFactor(uid, 'ufsNope')));
    const tokens = auth.secrets();
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    const everything = [...errors.map(exposed), ...warnings, JSON.stringify(s.requests()), JSON.stringify(s.stats())].join('\n');
    for (const t of tokens) expect(everything).not.toContain(t);
    for (const secret of RSA.secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});

describe('DPoP', () => {
  it('token and API requests carry proofs; the nonce dance happens once at each server, again after a rotation', async () => {
    const { sim: s, client, auth } = await setup(EC, { oauthDpop: true }, { dpop: true });
    const uid = firstUserId(s);
    const enrolled = await client.enrollFactor(uid, { factorType: 'push', provider: 'OKTA' });
    expect(enrolled.links.poll).toBeDefined();
    await client.poll(uid, enrolled.links.poll!);
    await Promise.all(Array.from({ length: 10 }, () => client.listFactors(uid)));

    let stats = s.stats();
    // Token endpoint: 400 use_dpop_nonce, then the token.
    expect(stats.tokenRequests).toBe(2);
    expect(auth.tokenRequests).toBe(2);
    expect(stats.oauth?.tokenErrors).toEqual({ use_dpop_nonce: 1 });
    expect(stats.oauth?.tokensIssued).toBe(1);
    // API: the first request learns the resource nonce, the rest carry it.
    expect(stats.oauth?.apiRejections).toEqual({ use_dpop_nonce: 1 });
    expect(stats.requests.byStatus['401']).toBe(1);

    s.rotateDpopNonces();
    await client.getUser(uid);
    stats = s.stats();
    expect(stats.oauth?.apiRejections).toEqual({ use_dpop_nonce: 2 });
    expect(stats.tokenRequests).toBe(2); // a nonce is not a reason for a new token
  });

  it('RS256 client assertion with an ES256 DPoP key; refresh after revocation works with proofs', async () => {
    const { sim: s, client } = await setup(RSA, { oauthDpop: true }, { dpop: true });
    const uid = firstUserId(s);
    await client.getUser(uid);
    s.revokeTokens();
    await client.getUser(uid);
    const stats = s.stats();
    expect(stats.oauth?.tokensIssued).toBe(2);
    expect(stats.oauth?.apiRejections.invalid_token).toBe(1);
  });

  it('an app requiring DPoP and a client without it → invalid_dpop_proof saying how to fix it', async () => {
    const { sim: s, client } = await setup(EC, { oauthDpop: true });
    const err = await rejection(client.getUser(firstUserId(s)));
    expect(err.status).toBe(400);
    expect(err.errorCode).toBe('invalid_dpop_proof');
    expect(err.errorSummary).toContain('pass --dpop');
  });

  it('a client asking for DPoP from an app that does not require it gets a Bearer token and says so', async () => {
    const { sim: s, client } = await setup(EC, {}, { dpop: true });
    await client.getUser(firstUserId(s));
    expect(warnings.some((w) => w.includes('issued a plain Bearer token'))).toBe(true);
    expect(s.stats().requests.byStatus['401']).toBeUndefined();
  });
});
