/**
 * The manifest of a `run`: written next to its report by executeRun, against the real
 * simulator and a real Redis (test/helpers/redis.ts); signed with --sign-key; no
 * credential in it; hashes and counts right; verify accepts it and notices an edit.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/commands/run.js';
import { verifyManifest } from '../../src/runs/manifest.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { buildScenario } from '../helpers/scenario.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { sink } from './helpers.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('run manifest', () => {
  let dir: string;
  let sim: SimulatorHandle | undefined;
  let prefix: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'be-run-manifest-'));
    prefix = uniquePrefix('runman');
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await cleanPrefix(redisUrl(), prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the input, the report, the counts and the options, signed, and nothing secret', async () => {
    const scenario = buildScenario(dir, { users: 20, scanMs: [50, 150] });
    const token = 'run-manifest-token-0123456789';
    sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 800, onDuplicate: 'allow', rateLimit: 100_000, token });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'sign.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const report = join(dir, 'report.csv');
    const printed = sink();
    await runCommand(
      scenario.inputCsv,
      {
        report,
        orgUrl: sim.url,
        tokenFile,
        redis: redisUrl(),
        prefix,
        rateLimit: '100000',
        usersRateLimit: '100000',
        pollInitialMs: '50',
        signKey: keyFile,
        logFile: join(dir, 'run.log'),
        logLevel: 'error',
      },
      { env: {}, out: printed.stream },
    );
    const manifestFile = `${report}.manifest.json`;
    expect(printed.text()).toContain(`Manifest: ${manifestFile}`);
    const raw = readFileSync(manifestFile, 'utf8');
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(tokenFile);
    expect(raw).not.toContain(keyFile);
    expect(raw).not.toContain(redisUrl());
    expect(statSync(manifestFile).mode & 0o777).toBe(0o600);
    const m = JSON.parse(raw);
    expect(m.command).toBe('run');
    expect(m.runId).toMatch(/\S/);
    expect(m.state).toBe('finished');
    expect(m.input).toEqual({ name: 'input.csv', path: 'input.csv', bytes: statSync(scenario.inputCsv).size, sha256: sha256(scenario.inputCsv) });
    expect(m.report).toEqual({ name: 'report.csv', path: 'report.csv', bytes: statSync(report).size, sha256: sha256(report) });
    const rows = readReportFile(report);
    const count = (o: string) => rows.filter((r) => r.outcome === o).length;
    expect(m.counts).toEqual({ total: rows.length, activated: count('activated'), expired: count('expired'), failed: count('failed'), pending: 0 });
    expect(m.options).toMatchObject({ report, orgUrl: sim.url, prefix, rateLimit: '100000', pollInitialMs: '50' });
    expect(m.publicKey).toBe(publicKey.export({ type: 'spki', format: 'pem' }));

    const ok = await verifyManifest(manifestFile, { publicKey });
    expect(ok.ok).toBe(true);
    expect(ok.signature).toBe('valid');
    writeFileSync(report, readFileSync(report, 'utf8').replace(',activated,', ',expired,'));
    const changed = await verifyManifest(manifestFile, { publicKey });
    expect(changed.ok).toBe(false);
    expect(changed.checks.filter((c) => !c.ok).map((c) => c.subject)).toEqual(['report.csv']);
  });
});
