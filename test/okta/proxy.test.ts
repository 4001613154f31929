/**
 * Forward proxies: the choice (option, environment, NO_PROXY, loopback) as pure
 * functions, then real requests through a real forwarding proxy on loopback
 * (helpers/forward-proxy.ts): plain-HTTP forwarding, NO_PROXY, `proxy: false`, proxy
 * credentials (sent to the proxy, never in a message), a 407, an https:// org through a
 * CONNECT tunnel with a self-signed certificate trusted through `ca`, and the OAuth token
 * request through the same proxy.
 *
 * The org is called okta.test (a name no DNS knows): only the proxy can reach it, so an
 * answer proves the request went through the proxy, and ENOTFOUND proves it did not.
 */
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { oauthAuth } from '../../src/okta/auth-oauth.js';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createOktaClient } from '../../src/okta/client.js';
import { ForeignOriginError, OktaNetworkError } from '../../src/okta/errors.js';
import { chooseProxy, noProxyExcludes, parseProxyUrl } from '../../src/okta/proxy.js';
import { trustedCas } from '../../src/okta/transport.js';
import type { OktaClient, OktaClientOptions } from '../../src/okta/types.js';
import { redact } from '../../src/redact.js';
import { json, startCannedServer, type CannedServer } from './helpers/canned-server.js';
import { startForwardProxy, type ForwardProxy } from './helpers/forward-proxy.js';
import { failure } from './helpers/failure.js';

const TOKEN = '00proxyTestTokenABCDEFGHIJKLMNOPQRSTUVWX';
const CERT = readFileSync(new URL('./fixtures/tls/okta-test.cert.pem', import.meta.url), 'utf8');
const KEY = readFileSync(new URL('./fixtures/tls/okta-test.key.pem', import.meta.url), 'utf8');
const USER = { id: '00u1', status: 'ACTIVE', profile: { login: 'a@example.com' } };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

async function org(tls = false): Promise<CannedServer> {
  const s = await startCannedServer((_req, res) => json(res, 200, USER), tls ? { tls: { key: KEY, cert: CERT } } : {});
  closers.push(() => s.close());
  return s;
}

async function proxy(opts: Parameters<typeof startForwardProxy>[0] = {}): Promise<ForwardProxy> {
  const p = await startForwardProxy({ hosts: { 'okta.test': '127.0.0.1' }, ...opts });
  closers.push(() => p.close());
  return p;
}

function client(opts: Partial<OktaClientOptions> & { orgUrl: string }): OktaClient {
  const c = createOktaClient({ auth: sswsAuth(TOKEN), allowInsecureHttp: true, timeoutMs: 5000, ...opts });
  closers.push(() => c.close());
  return c;
}


describe('which proxy (pure)', () => {
  const env = (vars: Record<string, string>): NodeJS.ProcessEnv => vars;

  it('the option wins over the environment; false means none', () => {
    const e = env({ HTTPS_PROXY: 'http://env-proxy:3128' });
    expect(chooseProxy('https://acme.okta.com', { proxy: 'http://opt-proxy:8080', env: e })).toMatchObject({ display: 'http://opt-proxy:8080', source: 'proxy' });
    expect(chooseProxy('https://acme.okta.com', { proxy: false, env: e })).toBeUndefined();
    expect(chooseProxy('https://acme.okta.com', { env: e })).toMatchObject({ display: 'http://env-proxy:3128', source: 'HTTPS_PROXY' });
    expect(chooseProxy('https://acme.okta.com', { env: env({}) })).toBeUndefined();
  });

  it('an https org takes https_proxy, HTTPS_PROXY, then http_proxy / HTTP_PROXY; an http org only the http ones', () => {
    expect(chooseProxy('https://acme.okta.com', { env: env({ https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }) })?.source).toBe('https_proxy');
    expect(chooseProxy('https://acme.okta.com', { env: env({ HTTP_PROXY: 'http://plain:3' }) })?.source).toBe('HTTP_PROXY');
    expect(chooseProxy('http://sim.internal:8080', { env: env({ HTTPS_PROXY: 'http://tls-only:1' }) })).toBeUndefined();
    expect(chooseProxy('http://sim.internal:8080', { env: env({ http_proxy: 'http://p:1', HTTP_PROXY: 'http://q:2' }) })?.source).toBe('http_proxy');
  });

  it('a loopback org never takes an environment proxy, but does take the option', () => {
    const e = env({ HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1' });
    expect(chooseProxy('http://127.0.0.1:9999', { env: e })).toBeUndefined();
    expect(chooseProxy('https://localhost:9999', { env: e })).toBeUndefined();
    expect(chooseProxy('http://127.0.0.1:9999', { env: e, proxy: 'http://p:1' })?.source).toBe('proxy');
  });

  it('NO_PROXY: hosts, domains (with ., *.), ports, IPs, CIDR ranges, *', () => {
    expect(noProxyExcludes('okta.com', 'acme.okta.com', 443)).toBe(true);
    expect(noProxyExcludes('.okta.com', 'acme.okta.com', 443)).toBe(true);
    expect(noProxyExcludes('*.okta.com', 'acme.okta.com', 443)).toBe(true);
    expect(noProxyExcludes('okta.com', 'notokta.com', 443)).toBe(false);
    expect(noProxyExcludes('intranet, acme.okta.com:8443', 'acme.okta.com', 443)).toBe(false);
    expect(noProxyExcludes('intranet acme.okta.com:443', 'acme.okta.com', 443)).toBe(true);
    expect(noProxyExcludes('10.0.0.0/8', '10.1.2.3', 443)).toBe(true);
    expect(noProxyExcludes('10.0.0.0/8', '11.1.2.3', 443)).toBe(false);
    expect(noProxyExcludes('fd00::/8', '[fd00::2]', 443)).toBe(true);
    expect(noProxyExcludes('192.0.2.7', '192.0.2.7', 80)).toBe(true);
    expect(noProxyExcludes('*', 'anything.example', 1)).toBe(true);
    expect(noProxyExcludes('', 'acme.okta.com', 443)).toBe(false);
    const e = env({ HTTPS_PROXY: 'http://p:1', no_proxy: 'example.com', NO_PROXY: 'okta.com' });
    // lower case first, as for the proxy variables
    expect(chooseProxy('https://acme.okta.com', { env: e })).toBeDefined();
    expect(chooseProxy('https://www.example.com', { env: e })).toBeUndefined();
  });

  it('reads proxy.corp:3128 as http://; refuses other schemes and paths without showing credentials', () => {
    expect(parseProxyUrl('proxy.corp:3128', 'HTTPS_PROXY').display).toBe('http://proxy.corp:3128');
    const bad = (raw: string) => {
      try {
        parseProxyUrl(raw, 'HTTPS_PROXY');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    const m1 = bad('ftp://bob:hunter2secret@proxy:21');
    expect(m1).toContain('HTTPS_PROXY: expected an http:// or https:// proxy URL, got the scheme "ftp:" in "ftp://[credentials]@proxy:21"');
    expect(m1).not.toContain('hunter2secret');
    const m2 = bad('http://bob:hunter2secret@proxy:3128/some/path');
    expect(m2).toContain('without a path');
    expect(m2).not.toContain('hunter2secret');
    expect(() => chooseProxy('https://acme.okta.com', { proxy: '' })).toThrow(/proxy: expected a proxy URL/);
  });

  it('keeps the credentials out of display and hands them to the redactor', () => {
    const p = parseProxyUrl('http://bob:s3cr%40t-pass@proxy.corp:3128', 'proxy');
    expect(p.display).toBe('http://[credentials]@proxy.corp:3128');
    expect(p.secrets).toContain('s3cr@t-pass');
    expect(redact('HTTPS_PROXY=http://bob:s3cr%40t-pass@proxy.corp:3128')).toBe('HTTPS_PROXY=http://[REDACTED]@proxy.corp:3128');
  });

  it('an extra CA is added to Node\'s roots, not instead of them; something else is refused', () => {
    const list = trustedCas(CERT, {});
    expect(list?.length).toBeGreaterThan(100);
    expect(list?.at(-1)?.trim()).toBe(CERT.trim());
    expect(trustedCas(undefined)).toBeUndefined();
    expect(() => trustedCas('not a certificate', {})).toThrow(/ca: expected PEM certificate text/);
  });
});

describe('through a real forwarding proxy', () => {
  it('HTTP_PROXY from env: a plain-HTTP forward of the absolute URI; answers come back; NO_PROXY sends it direct instead', async () => {
    const o = await org();
    const p = await proxy();
    const orgUrl = `http://okta.test:${o.port}`;
    const via = client({ orgUrl, env: { HTTP_PROXY: p.url } });
    expect(await via.getUser('00u1', { runId: 'run-1' })).toMatchObject({ id: '00u1', status: 'ACTIVE' });
    expect(p.requests).toHaveLength(1);
    expect(p.requests[0]).toMatchObject({ kind: 'forward', target: `okta.test:${o.port}`, method: 'GET', url: `${orgUrl}/api/v1/users/00u1` });
    expect(o.requests[0]?.headers['user-agent']).toMatch(/ run\/run-1$/);
    expect(o.requests[0]?.headers.host).toBe(`okta.test:${o.port}`);

    const direct = client({ orgUrl, env: { HTTP_PROXY: p.url, NO_PROXY: 'localhost,.test' } });
    const err = await failure(direct.getUser('00u1'));
    expect(err).toBeInstanceOf(OktaNetworkError);
    expect((err as OktaNetworkError).code).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect((err as OktaNetworkError).maybeProcessed).toBe(false);
    const off = client({ orgUrl, env: { HTTP_PROXY: p.url }, proxy: false });
    await expect(off.getUser('00u1')).rejects.toBeInstanceOf(OktaNetworkError);
    expect(p.requests).toHaveLength(1);
  });

  it('the origin rule holds through a proxy: a foreign /api/v1 link is rebased onto the org, anything else foreign is refused before the proxy hears of it', async () => {
    const o = await org();
    const p = await proxy();
    const orgUrl = `http://okta.test:${o.port}`;
    const c = client({ orgUrl, env: { HTTP_PROXY: p.url } });
    await c.poll('00u1', { href: 'http://rain.okta1.com:1802/api/v1/users/00u1/factors/f1', method: 'GET' });
    expect(p.requests.map((r) => r.url)).toEqual([`${orgUrl}/api/v1/users/00u1/factors/f1`]);
    await expect(c.sendActivation('00u1', { href: 'http://collector.example/steal', method: 'POST' })).rejects.toBeInstanceOf(ForeignOriginError);
    expect(p.requests).toHaveLength(1);
  });

  it('proxy credentials go to the proxy as Proxy-Authorization, never to Okta, never into a message; a 407 is said plainly', async () => {
    const o = await org();
    const basic = `Basic ${Buffer.from('bob:pr0xy-Passw0rd').toString('base64')}`;
    const p = await proxy({ requireAuthorization: basic });
    const orgUrl = `http://okta.test:${o.port}`;
    const good = client({ orgUrl, proxy: `http://bob:pr0xy-Passw0rd@127.0.0.1:${p.port}` });
    expect((good as unknown as { proxy: string }).proxy).toBe(`http://[credentials]@127.0.0.1:${p.port}`);
    await good.getUser('00u1');
    expect(p.requests[0]?.headers['proxy-authorization']).toBe(basic);
    expect(o.requests[0]?.headers['proxy-authorization']).toBeUndefined();
    expect(o.requests[0]?.headers.authorization).toBe(`SSWS ${TOKEN}`);

    const wrong = client({ orgUrl, proxy: `http://bob:wrong-Passw0rd@127.0.0.1:${p.port}` });
    const err = await failure(wrong.getUser('00u1'));
    expect(err).toBeInstanceOf(OktaNetworkError);
    expect(err).toMatchObject({ code: 'PROXY_REFUSED', maybeProcessed: false });
    expect(err.message).toContain(`the proxy http://[credentials]@127.0.0.1:${p.port} refused to carry the request (HTTP 407)`);
    expect(err.message).not.toContain('wrong-Passw0rd');
    expect(redact(`connecting via http://bob:wrong-Passw0rd@127.0.0.1:${p.port}`)).not.toContain('wrong-Passw0rd');
    expect(o.requests).toHaveLength(1);
  });

  it('https org through a CONNECT tunnel: the proxy sees only the CONNECT; the self-signed certificate is trusted through `ca`, and refused without it', async () => {
    const o = await org(true);
    const p = await proxy();
    const orgUrl = `https://okta.test:${o.port}`;
    const c = client({ orgUrl, env: { HTTPS_PROXY: p.url }, ca: CERT });
    expect(await c.getUser('00u1')).toMatchObject({ id: '00u1' });
    await c.getUser('00u1');
    expect(o.requests).toHaveLength(2);
    expect(o.requests[0]?.headers.authorization).toBe(`SSWS ${TOKEN}`);
    const tunnels = p.requests.filter((r) => r.kind === 'connect');
    expect(p.requests).toEqual(tunnels);
    expect(tunnels.length).toBeGreaterThanOrEqual(1);
    expect(tunnels[0]?.target).toBe(`okta.test:${o.port}`);
    expect(tunnels[0]?.headers.authorization).toBeUndefined();

    const untrusted = client({ orgUrl, env: { HTTPS_PROXY: p.url } });
    const err = await failure(untrusted.getUser('00u1'));
    expect(err).toBeInstanceOf(OktaNetworkError);
    expect((err as OktaNetworkError).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
    expect((err as OktaNetworkError).maybeProcessed).toBe(false);
    expect(o.requests).toHaveLength(2);

    const guarded = await proxy({ requireAuthorization: 'Basic c29tZW9uZTplbHNl' });
    const refused = await failure(client({ orgUrl, proxy: guarded.url, ca: CERT }).getUser('00u1'));
    expect(refused).toMatchObject({ code: 'PROXY_REFUSED', maybeProcessed: false });
    expect(refused.message).toContain('(HTTP 407): it wants credentials');
    expect(o.requests).toHaveLength(2);
  });

  it('an https:// proxy: TLS to the proxy too, both certificates trusted through the one `ca`', async () => {
    const o = await org(true);
    const p = await proxy({ tls: { key: KEY, cert: CERT } });
    expect(p.url.startsWith('https://localhost:')).toBe(true);
    const c = client({ orgUrl: `https://okta.test:${o.port}`, env: { HTTPS_PROXY: p.url }, ca: CERT });
    expect(await c.getUser('00u1')).toMatchObject({ id: '00u1' });
    expect(p.requests[0]).toMatchObject({ kind: 'connect', target: `okta.test:${o.port}` });
  });

  it('the OAuth token request goes through the same proxy as the API requests', async () => {
    const o = await org(true);
    o.handle((req, res) =>
      req.url === '/oauth2/v1/token'
        ? json(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: 'at-through-the-proxy-0001', scope: 'okta.users.read' })
        : json(res, 200, USER),
    );
    const p = await proxy();
    const orgUrl = `https://okta.test:${o.port}`;
    const env = { HTTPS_PROXY: p.url };
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const auth = oauthAuth({ orgUrl, clientId: '0oaProxyTest', privateKey: key, scopes: ['okta.users.read'], env, ca: CERT });
    const c = client({ orgUrl, auth, env, ca: CERT });
    await c.getUser('00u1');
    expect(o.requests.map((r) => r.url)).toEqual(['/oauth2/v1/token', '/api/v1/users/00u1']);
    expect(o.requests[1]?.headers.authorization).toBe('Bearer at-through-the-proxy-0001');
    // Both went through a tunnel (the token request on its own connection); Okta is reachable no other way.
    expect(p.requests.filter((r) => r.kind === 'connect').length).toBeGreaterThanOrEqual(2);
  });
});
