/**
 * Manifests and `verify`: an audit against the real simulator with a real Redis
 * (test/helpers/redis.ts) writes a signed manifest; verify accepts it untouched and
 * names exactly what changed otherwise: the report, the input, a missing file, the
 * manifest itself, or a signature made with another key. One round through the CLI.
 */
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCommand } from '../../src/commands/audit.js';
import { verifyCommand } from '../../src/commands/verify.js';
import { ConfigError, ExitError } from '../../src/errors.js';
import { canonicalJson } from '../../src/runs/canonical-json.js';
import { loadManifestSigningKey, signManifest, verifyManifest, writeManifest, type Manifest } from '../../src/runs/manifest.js';
import { killAll, runCli } from '../helpers/cli.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { sink, startOrg, TOKEN, userId, type Org } from './helpers.js';

function keyPair(dir: string, name: string): { priv: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = join(dir, `${name}.pem`);
  const pub = join(dir, `${name}.pub.pem`);
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { priv, pub };
}

async function verifyOutcome(manifest: string, flags: Record<string, unknown> = {}): Promise<{ code: number; text: string }> {
  const out = sink();
  try {
    await verifyCommand(manifest, flags, { out: out.stream });
    return { code: 0, text: out.text() };
  } catch (err) {
    if (err instanceof ExitError) return { code: err.code, text: `${out.text()}${err.message}` };
    throw err;
  }
}

describe('manifest and verify', () => {
  let org: Org | undefined;
  let prefix: string;
  beforeEach(() => {
    prefix = uniquePrefix('verify');
  });
  afterEach(async () => {
    await killAll();
    await org?.close();
    org = undefined;
    await cleanPrefix(redisUrl(), prefix);
  });

  /** An audit of 30 users with a signed manifest; returns the files. */
  async function signedAudit(o: Org, inputDir = o.dir) {
    mkdirSync(inputDir, { recursive: true });
    const input = join(inputDir, 'users.csv');
    writeFileSync(input, `userId\n${o.users.map((u) => u.id).join('\n')}\n`);
    const reports = join(o.dir, 'reports');
    const out = join(reports, 'inventory.csv');
    const keys = keyPair(o.dir, 'signer');
    await auditCommand(
      input,
      { out, orgUrl: o.sim.url, redis: redisUrl(), prefix, signKey: keys.priv, logFile: join(o.dir, 'a.log'), logLevel: 'error', rateLimit: '100000', usersRateLimit: '100000' },
      { env: { OKTA_API_TOKEN: TOKEN }, out: sink().stream },
    );
    return { input, out, manifest: `${out}.manifest.json`, keys };
  }

  it('accepts an untouched signed manifest and names each change', async () => {
    org = await startOrg({ count: 30 });
    const { input, out, manifest, keys } = await signedAudit(org, join(org.dir, 'inputs'));
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as Manifest;
    // the input lies outside the manifest's folder: recorded absolute; the report beside it: relative
    expect(m.input!.path).toBe(input);
    expect(m.report.path).toBe('inventory.csv');
    expect(m.signatureAlgorithm).toBe('ed25519');
    expect(m.publicKey).toBe(readFileSync(keys.pub, 'utf8'));
    expect(JSON.stringify(m)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(m)).not.toContain(keys.priv);

    // untouched: with the right public key, and without one (self-consistent only)
    let r = await verifyOutcome(manifest, { publicKey: keys.pub });
    expect(r.code).toBe(0);
    expect(r.text).toContain('input users.csv: SHA-256 matches');
    expect(r.text).toContain('inventory.csv: SHA-256 matches');
    expect(r.text).toContain('signature: valid (made with the private key of --public-key)');
    r = await verifyOutcome(manifest);
    expect(r.code).toBe(0);
    expect(r.text).toMatch(/signature: valid against the public key embedded in the manifest; this only shows the manifest is self-consistent/);

    // another key: rejected
    const other = keyPair(org.dir, 'other');
    r = await verifyOutcome(manifest, { publicKey: other.pub });
    expect(r.code).toBe(1);
    expect(r.text).toContain('signature: invalid (not made with the key of --public-key');

    // a modified report
    const reportBefore = readFileSync(out);
    appendFileSync(out, `${userId(999)},x@example.com,,,,NONE,,\n`);
    r = await verifyOutcome(manifest, { publicKey: keys.pub });
    expect(r.code).toBe(1);
    const after = (await verifyManifest(manifest)).checks.find((c) => c.subject === 'inventory.csv')!;
    expect(after.ok).toBe(false);
    expect(r.text).toContain(`inventory.csv: SHA-256 differs (manifest ${m.report.sha256.slice(0, 12)}…, file `);
    expect(r.text).toMatch(/size: manifest \d+ bytes, file \d+ bytes/);
    expect(r.text).toContain('input users.csv: SHA-256 matches');
    writeFileSync(out, reportBefore);
    expect((await verifyOutcome(manifest, { publicKey: keys.pub })).code).toBe(0);

    // a modified input (same size: one character changed)
    const inputBefore = readFileSync(input, 'utf8');
    writeFileSync(input, inputBefore.replace(userId(3), userId(3).replace('audit', 'AUDIT')));
    r = await verifyOutcome(manifest, { publicKey: keys.pub });
    expect(r.code).toBe(1);
    expect(r.text).toContain(`input users.csv: SHA-256 differs (manifest ${m.input!.sha256.slice(0, 12)}…, file `);
    expect(r.text).not.toMatch(/size: manifest/);
    expect(r.text).toContain('inventory.csv: SHA-256 matches');

    // a missing input
    rmSync(input);
    r = await verifyOutcome(manifest);
    expect(r.code).toBe(1);
    expect(r.text).toContain(`input users.csv: missing (expected at ${input})`);
    writeFileSync(input, inputBefore);

    // the manifest itself changed after signing (counts edited)
    const edited = { ...m, counts: { ...m.counts, NONE: (m.counts.NONE ?? 0) + 1 } };
    writeFileSync(manifest, JSON.stringify(edited, null, 2));
    r = await verifyOutcome(manifest);
    expect(r.code).toBe(1);
    expect(r.text).toContain('signature: invalid (the manifest was changed after signing)');
    // … and re-signed by someone else: self-consistent, but not with the signer's key
    writeFileSync(manifest, JSON.stringify(signManifest(edited, await loadManifestSigningKey(other.priv)), null, 2));
    expect((await verifyOutcome(manifest)).code).toBe(0);
    r = await verifyOutcome(manifest, { publicKey: keys.pub });
    expect(r.code).toBe(1);
    expect(r.text).toContain('signature: invalid');
  });

  it('finds files moved together with the manifest into one folder', async () => {
    org = await startOrg({ count: 5 });
    const { input, out, manifest, keys } = await signedAudit(org, join(org.dir, 'inputs'));
    const handover = join(org.dir, 'handover');
    mkdirSync(handover);
    copyFileSync(input, join(handover, 'users.csv'));
    copyFileSync(out, join(handover, 'inventory.csv'));
    renameSync(manifest, join(handover, 'inventory.csv.manifest.json'));
    rmSync(input);
    const r = await verifyOutcome(join(handover, 'inventory.csv.manifest.json'), { publicKey: keys.pub });
    expect(r.code).toBe(0);
    expect(r.text).toContain(`input users.csv: SHA-256 matches`);
    expect(r.text).toContain(`(found next to the manifest, not at ${input})`);
  });

  it('an unsigned manifest: fine on its own, a difference when a public key is required', async () => {
    org = await startOrg({ count: 2 });
    const report = join(org.dir, 'r.csv');
    writeFileSync(report, 'a,b\n1,2\n');
    const { file } = await writeManifest({ command: 'audit', options: { out: report, tokenFile: '/secret/token', redis: 'redis://:pw@h:6379', signKey: '/k.pem' }, startedAt: new Date(), reportPath: report, counts: { NONE: 1 } });
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    expect(m.options).toEqual({ out: report });
    expect(m.input).toBeUndefined();
    expect((await verifyOutcome(file)).text).toContain('signature: none (the manifest is not signed)');
    expect((await verifyOutcome(file)).code).toBe(0);
    const keys = keyPair(org.dir, 'k');
    const r = await verifyOutcome(file, { publicKey: keys.pub });
    expect(r.code).toBe(1);
    expect(r.text).toContain('signature: missing (the manifest is not signed, but --public-key was given)');
  });

  it('usage errors: no manifest, not a manifest, a key that is not ed25519', async () => {
    org = await startOrg({ count: 1 });
    let r = await verifyOutcome(join(org.dir, 'nope.manifest.json'));
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/nope\.manifest\.json: manifest not found/);
    const notJson = join(org.dir, 'x.json');
    writeFileSync(notJson, 'hello');
    r = await verifyOutcome(notJson);
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/expected a bulk-enroll manifest \(JSON\), got text that is not JSON/);
    writeFileSync(notJson, JSON.stringify({ manifestVersion: 1, command: 'run' }));
    r = await verifyOutcome(notJson);
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/not a bulk-enroll manifest: tool: .*report: /);
    const rsa = join(org.dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const err = await loadManifestSigningKey(rsa).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]).toBe(`--sign-key: expected an ed25519 private key, got a rsa key in ${rsa}`);
  });

  it('canonical JSON sorts keys at every level and refuses what JSON cannot hold', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null, 'x'], c: 2.5 }, u: undefined })).toBe('{"a":{"c":2.5,"d":[true,null,"x"]},"b":1}');
    expect(canonicalJson({ é: 1, z: 2, Z: 3 })).toBe('{"Z":3,"z":2,"é":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/expected a finite number at \$\.a, got NaN/);
    expect(() => canonicalJson({ a: new Date(0) })).toThrow(/expected JSON data at \$\.a/);
  });

  it('through the CLI: audit --sign-key, then verify exits 0, 1 and 2', async () => {
    org = await startOrg({ count: 12 });
    const input = join(org.dir, 'users.csv');
    writeFileSync(input, `login\n${org.users.map((u) => u.login).join('\n')}\n`);
    const out = join(org.dir, 'inv.csv');
    const keys = keyPair(org.dir, 'cli');
    chmodSync(keys.priv, 0o600);
    const audit = await runCli(
      ['audit', input, '--out', out, '--org-url', org.sim.url, '--redis', redisUrl(), '--prefix', prefix, '--sign-key', keys.priv, '--log-file', join(org.dir, 'cli.log'), '--rate-limit', '100000'],
      { env: { OKTA_API_TOKEN: TOKEN } },
    );
    expect(audit.stderr).not.toMatch(/\b(error|warn)\b/i);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toContain('Audit: 12 users');
    expect(audit.stdout).toContain('active push factor: 5 of 12 users read (41.7%)');
    expect(audit.stdout).toContain(`Manifest: ${out}.manifest.json (signed)`);
    let v = await runCli(['verify', `${out}.manifest.json`, '--public-key', keys.pub]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('Everything matches.');
    appendFileSync(out, 'tampered\n');
    v = await runCli(['verify', `${out}.manifest.json`, '--public-key', keys.pub]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain('inv.csv: SHA-256 differs');
    v = await runCli(['verify', join(org.dir, 'missing.json')]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain('manifest not found');
  });
});
