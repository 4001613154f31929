import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadProcessConfig, loadRunSettings } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'be-cfg-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('process config', () => {
  it('flags override the environment, which overrides defaults', () => {
    const c = loadProcessConfig({ rateLimit: '900' }, { env: { OKTA_ORG_URL: 'https://acme.okta.com/', OKTA_API_TOKEN: 'abc123', BULK_ENROLL_RATE_LIMIT: '500', BULK_ENROLL_MAX_CONCURRENT: '30' } });
    expect(c.orgUrl).toBe('https://acme.okta.com');
    expect(c.rateLimit).toBe(900);
    expect(c.maxConcurrent).toBe(30);
    expect(c.concurrency).toBe(50);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('lists every problem at once, naming the flag, what was expected and what was found', () => {
    const p = problems(() =>
      loadProcessConfig({ orgUrl: 'acme.okta.com', rateLimit: '-1', maxConcurrent: '100', redis: 'localhost:6379', logLevel: 'loud', prefix: 'a:b' }, { env: {} }),
    );
    expect(p).toEqual([
      '--org-url / OKTA_ORG_URL: expected an absolute URL like https://example.okta.com, got `acme.okta.com`',
      'OKTA_API_TOKEN or --token-file: required (an Okta API token; the token is never written anywhere)',
      '--redis / REDIS_URL: expected redis://host:port or rediss://…, got `localhost:6379`',
      '--prefix / BULK_ENROLL_PREFIX: expected 1–64 letters, digits, _ . -, got `a:b`',
      '--rate-limit / BULK_ENROLL_RATE_LIMIT: expected a whole number from 1, got `-1`',
      '--max-concurrent / BULK_ENROLL_MAX_CONCURRENT: expected a whole number from 1 to 75, got `100`',
      '--log-level / BULK_ENROLL_LOG_LEVEL: expected one of error, warn, info, verbose, debug, got `loud`',
    ]);
  });

  it('reads the token from a file and warns when others may read it', () => {
    const f = join(dir, 'token');
    writeFileSync(f, 'tok-from-file\n');
    chmodSync(f, 0o644);
    const warnings: string[] = [];
    const c = loadProcessConfig({ tokenFile: f }, { env: { OKTA_ORG_URL: 'https://acme.okta.com' }, warn: (m) => warnings.push(m) });
    expect(c.token).toBe('tok-from-file');
    expect(warnings.join()).toMatch(/readable by other users/);
    chmodSync(f, 0o600);
    const quiet: string[] = [];
    loadProcessConfig({ tokenFile: f }, { env: { OKTA_ORG_URL: 'https://acme.okta.com' }, warn: (m) => quiet.push(m) });
    expect(quiet).toEqual([]);
  });

  it('refuses an org URL with a path', () => {
    expect(problems(() => loadProcessConfig({}, { env: { OKTA_ORG_URL: 'https://acme.okta.com/api/v1', OKTA_API_TOKEN: 'x' } }))[0]).toMatch(/org origin only/);
  });
});

describe('run settings', () => {
  it('defaults, and all problems at once', () => {
    expect(loadRunSettings({}, {})).toMatchObject({ pollFactor: 2, activationTimeoutMs: 660_000, deliver: 'email', detect: 'log', deviceFields: false });
    const p = problems(() => loadRunSettings({ pollInitialMs: '5000', pollMaxMs: '1000', pollFactor: '0', deliver: 'pigeon' }, {}));
    expect(p).toContain('--poll-factor / BULK_ENROLL_POLL_FACTOR: expected a number from 1 to 10, got `0`');
    expect(p).toContain('--poll-max-ms: expected at least --poll-initial-ms (5000), got 1000');
    expect(p).toContain('--deliver / BULK_ENROLL_DELIVER: expected one of email, sms, none, got `pigeon`');
  });
});
