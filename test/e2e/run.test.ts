/**
 * End to end, in one process: `run` on a mixed CSV against the real simulator over
 * HTTP and a real Redis (see test/helpers/redis.ts), in both dialects.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { buildScenario } from '../helpers/scenario.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { REPORT_COLUMNS } from '../../src/csv/report.js';
import { ExitError } from '../../src/errors.js';

describe.each(['okta', 'seed'] as const)('run end to end (%s dialect)', (dialect) => {
  let dir: string;
  let sim: SimulatorHandle | undefined;
  let prefix: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'be-e2e-'));
    prefix = uniquePrefix('e2e');
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    await cleanPrefix(redisUrl(), prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every row exactly its expected outcome and enrolls nobody twice', async () => {
    const scenario = buildScenario(dir, { users: 200 });
    const token = 'e2e-token-0123456789';
    sim = await startSimulator({
      dialect,
      usersCsv: scenario.directoryCsv,
      activationTtlMs: 1500,
      onDuplicate: 'allow',
      rateLimit: 100_000,
      rateWindowMs: 60_000,
      token,
      linkBase: dialect === 'seed' ? 'http://rain.okta1.com:1802' : undefined,
    });
    const report = join(dir, 'report.csv');
    const out: string[] = [];
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
        logFile: join(dir, 'run.log'),
        logLevel: 'warn',
      },
      { env: { OKTA_API_TOKEN: token }, out: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream },
    );
    const rows = readReportFile(report);
    expect(Object.keys(rows[0]!)).toEqual([...REPORT_COLUMNS]);
    expect(rows).toHaveLength(scenario.expected.length);
    const mismatches = scenario.expected.filter((e, i) => {
      const r = rows[i]!;
      return r.row !== String(e.row) || r.outcome !== e.outcome || (e.errorCode !== undefined && r.errorCode !== e.errorCode);
    });
    expect(mismatches.map((m) => ({ ...m, got: rows[m.row - 1] }))).toEqual([]);
    // the summary adds up
    const text = out.join('');
    const count = (o: string) => scenario.expected.filter((e) => e.outcome === o).length;
    expect(text).toContain(`${scenario.expected.length} rows`);
    expect(text).toMatch(new RegExp(`activated ${count('activated')}\\b`));
    expect(text).toMatch(new RegExp(`expired\\s+${count('expired')}\\b`));
    expect(text).toMatch(new RegExp(`failed\\s+${count('failed')}\\b`));
    const stats = sim.stats();
    expect(stats.duplicateEnrollments).toBe(0);
    // activated rows carry the factor's id, status and creation time
    for (const r of rows.filter((x) => x.outcome === 'activated')) {
      expect(r.factorId).not.toBe('');
      expect(['ACTIVE', 'ACTIVATED']).toContain(r.status);
      expect(r.enrolledAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(statSync(report).mode & 0o077).toBe(0);
  });
});

describe('run --strict', () => {
  it('exits 3 when any row did not end activated, after writing the report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'be-strict-'));
    const prefix = uniquePrefix('strict');
    const scenario = buildScenario(dir, { users: 20, seed: 2 });
    const sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1000, rateLimit: 100_000, token: 'strict-token-123456' });
    try {
      const report = join(dir, 'report.csv');
      const flags = { report, strict: true, orgUrl: sim.url, redis: redisUrl(), prefix, rateLimit: '100000', usersRateLimit: '100000', pollInitialMs: '100', deliver: 'none', logFile: join(dir, 'run.log') };
      const err = await runCommand(scenario.inputCsv, flags, { env: { OKTA_API_TOKEN: 'strict-token-123456' }, out: { write: () => true } as unknown as NodeJS.WritableStream }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ExitError);
      expect((err as ExitError).code).toBe(3);
      expect(readReportFile(report)).toHaveLength(scenario.expected.length);
    } finally {
      await sim.close();
      await cleanPrefix(redisUrl(), prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
