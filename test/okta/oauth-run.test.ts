/**
 * The runner with an OAuth 2.0 service app, end to end in one process: `run` with
 * --auth oauth --dpop on a mixed CSV against the simulator (DPoP required, tokens living
 * 1.5 s so they are renewed during the run) and a real Redis (test/helpers/redis.ts).
 * Every row gets its expected outcome, tokens are few, and neither an access token nor
 * the private key appears in the report, the log file or Redis.
 * Also: loadProcessConfig for --auth oauth (all problems together, key file checks).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/commands/run.js';
import { loadProcessConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { buildScenario } from '../helpers/scenario.js';

const CLIENT_ID = '0oaRunnerApp00000001';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'be-oauth-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeKey(kind: 'rsa' | 'ec', format: 'pem' | 'jwk'): { file: string; publicText: string; secrets: string[] } {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const file = join(dir, `app-${kind}.${format === 'pem' ? 'pem' : 'json'}`);
  writeFileSync(file, format === 'pem' ? pem : JSON.stringify({ ...jwk, kid: 'k1' }), { mode: 0o600 });
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return { file, publicText: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(), secrets: [String(jwk.d), body.slice(30, 70)] };
}

/** Every value stored under the prefix, as text. */
async function dumpRedis(url: string, prefix: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const parts: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let value: unknown;
        if (type === 'string') value = await redis.get(key);
        else if (type === 'hash') value = await redis.hgetall(key);
        else if (type === 'list') value = await redis.lrange(key, 0, -1);
        else if (type === 'set') value = await redis.smembers(key);
        else if (type === 'zset') value = await redis.zrange(key, '0', '-1');
        else if (type === 'stream') value = await redis.xrange(key, '-', '+');
        parts.push(key, JSON.stringify(value));
      }
    } while (cursor !== '0');
    return parts.join('\n');
  } finally {
    redis.disconnect();
  }
}

describe('run with --auth oauth', () => {
  let sim: SimulatorHandle | undefined;
  let prefix: string;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await cleanPrefix(redisUrl(), prefix);
  });

  it('DPoP-bound tokens renewed during the run; every row as expected; no token or key in report, log or Redis', async () => {
    prefix = uniquePrefix('oauth');
    const scenario = buildScenario(dir, { users: 40, scanMs: [100, 500] });
    const key = writeKey('ec', 'jwk');
    sim = await startSimulator({
      usersCsv: scenario.directoryCsv,
      activationTtlMs: 1500,
      onDuplicate: 'allow',
      rateLimit: 100_000,
      rateWindowMs: 60_000,
      token: 'ssws-is-not-used-here',
      oauthClientId: CLIENT_ID,
      oauthPublicKey: key.publicText,
      oauthDpop: true,
      oauthTokenTtlMs: 1500,
    });
    const report = join(dir, 'report.csv');
    const log = join(dir, 'run.log');
    const started = Date.now();
    await runCommand(
      scenario.inputCsv,
      {
        report,
        orgUrl: sim.url,
        redis: redisUrl(),
        prefix,
        rateLimit: '100000',
        usersRateLimit: '100000',
        pollInitialMs: '100',
        logFile: log,
        logLevel: 'debug',
        auth: 'oauth',
        clientId: CLIENT_ID,
        privateKey: key.file,
        dpop: true,
      },
      { env: {}, out: { write: () => true } as unknown as NodeJS.WritableStream },
    );
    const elapsed = Date.now() - started;
    const rows = readReportFile(report);
    expect(rows).toHaveLength(scenario.expected.length);
    const mismatches = scenario.expected.filter((e, i) => rows[i]!.outcome !== e.outcome || (e.errorCode !== undefined && rows[i]!.errorCode !== e.errorCode));
    expect(mismatches).toEqual([]);

    const stats = sim.stats();
    // Tokens were shared and renewed: a handful of token requests for hundreds of API calls.
    expect(stats.requests.total).toBeGreaterThan(100);
    expect(stats.oauth!.tokensIssued).toBeGreaterThanOrEqual(2);
    expect(stats.oauth!.tokensIssued).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 2);
    expect(stats.oauth!.apiRejections.insufficient_scope).toBeUndefined();
    // Every 401 the API gave was an OAuth refusal (a nonce to learn, a token past its time), none a bad token.
    const api401 = sim.requests().filter((r) => r.path.startsWith('/api/') && r.status === 401).length;
    const rejections = stats.oauth!.apiRejections;
    expect(api401).toBe(Object.values(rejections).reduce((a, b) => a + b, 0));
    expect(rejections.use_dpop_nonce).toBeGreaterThanOrEqual(1);
    expect(rejections.invalid_token).toBeUndefined();
    expect(readFileSync(log, 'utf8').length).toBeGreaterThan(0);

    const everything = [readFileSync(report, 'utf8'), readFileSync(log, 'utf8'), await dumpRedis(redisUrl(), prefix)].join('\n');
    expect(everything).not.toContain('sim_at_'); // every access token the simulator issues starts so
    for (const s of key.secrets) expect(everything).not.toContain(s);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./); // no assertion or proof
  });
});

describe('loadProcessConfig with --auth oauth', () => {
  const base = { orgUrl: 'https://example.okta.com' };

  it('reads the service app settings, with the default scopes', () => {
    const key = writeKey('rsa', 'pem');
    const c = loadProcessConfig({ ...base, auth: 'oauth', clientId: CLIENT_ID, privateKey: key.file, keyId: 'kid-1' }, { env: {} });
    expect(c.authMode).toBe('oauth');
    expect(c.token).toBe('');
    expect(c.oauth).toMatchObject({ clientId: CLIENT_ID, privateKeyFile: key.file, keyId: 'kid-1', dpop: false });
    expect(c.oauth!.scopes).toEqual(['okta.users.manage', 'okta.users.read', 'okta.groups.read', 'okta.logs.read']);
    expect(c.oauth!.privateKey).toContain('BEGIN PRIVATE KEY');
  });

  it('takes everything from the environment too', () => {
    const key = writeKey('ec', 'jwk');
    const c = loadProcessConfig(base, {
      env: { OKTA_AUTH_MODE: 'OAuth', OKTA_CLIENT_ID: CLIENT_ID, OKTA_PRIVATE_KEY_FILE: key.file, OKTA_SCOPES: 'okta.users.manage,okta.users.read', OKTA_DPOP: 'true' },
    });
    expect(c.authMode).toBe('oauth');
    expect(c.oauth!.scopes).toEqual(['okta.users.manage', 'okta.users.read']);
    expect(c.oauth!.dpop).toBe(true);
  });

  it('lists every problem together, naming flags and files but never key material', () => {
    const pub = join(dir, 'public.pem');
    writeFileSync(pub, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }).toString());
    let err: unknown;
    try {
      loadProcessConfig({ auth: 'oauth', privateKey: pub, tokenFile: '/x', scopes: ' ' }, { env: { OKTA_DPOP: 'maybe' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toEqual([
      '--org-url / OKTA_ORG_URL: required (your Okta org, e.g. https://example.okta.com)',
      '--token-file: not used with --auth oauth (the service app signs in with --client-id and --private-key); drop one of them',
      "--client-id / OKTA_CLIENT_ID: required with --auth oauth (the service app's client id, 0oa…)",
      expect.stringMatching(new RegExp(`^--private-key / OKTA_PRIVATE_KEY_FILE: ${pub.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: expected a PEM private key`)),
      '--scopes / OKTA_SCOPES: expected scope names such as okta.users.manage okta.users.read okta.groups.read okta.logs.read, got ` `',
      '--dpop / OKTA_DPOP: expected true or false (also 1/0, yes/no, on/off), got `maybe`',
    ]);
    expect(() => loadProcessConfig({ ...base, auth: 'basic' }, { env: { OKTA_API_TOKEN: 't' } })).toThrow(/--auth \/ OKTA_AUTH_MODE: expected ssws or oauth, got `basic`/);
  });

  it('warns about a key file others can read; refuses a missing one; SSWS mode refuses OAuth flags', () => {
    const key = writeKey('ec', 'pem');
    chmodSync(key.file, 0o644);
    const warnings: string[] = [];
    loadProcessConfig({ ...base, auth: 'oauth', clientId: CLIENT_ID, privateKey: key.file }, { env: {}, warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringContaining('is readable by other users (mode 644); chmod 600 it')]);
    expect(() => loadProcessConfig({ ...base, auth: 'oauth', clientId: CLIENT_ID, privateKey: join(dir, 'nope.pem') }, { env: {} })).toThrow(/cannot read .*nope\.pem \(ENOENT\)/);
    expect(() => loadProcessConfig({ ...base, clientId: CLIENT_ID, dpop: true }, { env: { OKTA_API_TOKEN: 'tok-123456' } })).toThrow(/--client-id: only used with --auth oauth[\s\S]*--dpop: only used/);
    // In oauth mode no API token is needed.
    expect(loadProcessConfig({ ...base, auth: 'oauth', clientId: CLIENT_ID, privateKey: key.file }, { env: {} }).token).toBe('');
  });
});
