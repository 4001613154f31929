/**
 * The one settings table (src/settings/table.ts), pure: the flags, the environment and the
 * docs made from it agree; every value is parsed one way whether it comes from a flag or
 * the environment; every problem is listed at once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadProcessConfig, loadRunSettings } from '../../src/config.js';
import { settingEnvNames, settingsMarkdown } from '../../src/settings/docs.js';
import { flagName, type Setting } from '../../src/settings/define.js';
import { ALL_SETTINGS } from '../../src/settings/table.js';
import { ROOT } from '../helpers/cli.js';

const settings = Object.values(ALL_SETTINGS) as Array<Setting<unknown>>;
const okta = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'token-0123456789' };

function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('settings table', () => {
  it('docs/settings.md is made from the table (run `npm run docs:settings` after changing it)', () => {
    expect(readFileSync(join(ROOT, 'docs', 'settings.md'), 'utf8')).toBe(settingsMarkdown());
  });

  it('samples/.env.example names every environment variable of the table', () => {
    const example = readFileSync(join(ROOT, 'samples', '.env.example'), 'utf8');
    const missing = settingEnvNames().filter((n) => !new RegExp(`^#?\\s?${n}=`, 'm').test(example));
    expect(missing).toEqual([]);
  });

  it('flags and variables are unique and named by one convention', () => {
    const flags = settings.map((s) => flagName(s.flag));
    expect(new Set(flags).size).toBe(flags.length);
    const envs = settings.flatMap((s) => (s.env ? [s.env] : []));
    expect(new Set(envs).size).toBe(envs.length);
    for (const e of envs) expect(e).toMatch(/^(BULK_ENROLL|OKTA|REDIS)_[A-Z0-9_]+$/);
  });

  it('booleans read the same words from flags and the environment', () => {
    for (const yes of ['yes', 'on', 'TRUE', '1']) {
      expect(loadProcessConfig({}, { env: { ...okta, BULK_ENROLL_ALLOW_INSECURE_HTTP: yes } }).allowInsecureHttp).toBe(true);
      expect(loadRunSettings({ deliver: 'sms' }, { BULK_ENROLL_SMS_TO_CSV_PHONE: yes }).smsToCsvPhone).toBe(true);
    }
    expect(loadProcessConfig({ allowInsecureHttp: true }, { env: okta }).allowInsecureHttp).toBe(true);
    expect(loadRunSettings({}, { BULK_ENROLL_DEVICE_FIELDS: 'no' }).deviceFields).toBe(false);
    expect(loadRunSettings({ deviceFields: true }, {}).deviceFields).toBe(true);
    expect(loadRunSettings({ deviceFields: false }, { BULK_ENROLL_DEVICE_FIELDS: 'yes' }).deviceFields).toBe(false);
    expect(problemsOf(() => loadProcessConfig({}, { env: { ...okta, BULK_ENROLL_ALLOW_INSECURE_HTTP: 'sure' } }))).toEqual([
      '--allow-insecure-http / BULK_ENROLL_ALLOW_INSECURE_HTTP: expected true or false (also 1/0, yes/no, on/off), got `sure`',
    ]);
  });

  it('every problem at once, each naming the flag and its variable', () => {
    const problems = problemsOf(() => loadRunSettings({ detect: 'maybe', attempts: '0' }, { BULK_ENROLL_DELIVER: 'pigeon' }));
    expect(problems).toEqual([
      '--attempts / BULK_ENROLL_ATTEMPTS: expected a whole number from 1 to 50, got `0`',
      '--detect / BULK_ENROLL_DETECT: expected log or poll, got `maybe`',
      '--deliver / BULK_ENROLL_DELIVER: expected one of email, sms, none, got `pigeon`',
    ]);
    const process = problemsOf(() => loadProcessConfig({ closeTimeoutMs: '5', maxConcurrent: '100' }, { env: okta }));
    expect(process).toEqual([
      '--max-concurrent / BULK_ENROLL_MAX_CONCURRENT: expected a whole number from 1 to 75, got `100`',
      '--close-timeout-ms / BULK_ENROLL_CLOSE_TIMEOUT_MS: expected a whole number from 1000 to 3600000, got `5`',
    ]);
  });

  it('defaults come from the table', () => {
    const c = loadProcessConfig({}, { env: okta });
    for (const s of settings.filter((x) => x.group !== 'run' && x.default !== undefined)) {
      const key = Object.entries(ALL_SETTINGS).find(([, v]) => v === s)![0];
      const value = (c as unknown as Record<string, unknown>)[key === 'redis' ? 'redisUrl' : key === 'auth' ? 'authMode' : key === 'logMaxSize' ? 'logMaxSizeBytes' : key];
      if (['scopes', 'dpop', 'redisTlsInsecure'].includes(key)) continue; // OAuth only; part of the Redis connection settings
      expect(value, key).toEqual(s.default);
    }
  });
});
