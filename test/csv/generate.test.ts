/**
 * The input generator used by tests, the demo and the bench: the directory and the
 * expected outcomes agree with the input, row by row, and the output is deterministic.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { generateUsersCsv, groupId } from '../../src/csv/generate.js';
import { inspectInput, readInput } from '../../src/csv/read-input.js';

const tmp = mkdtempSync(join(tmpdir(), 'be-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('generateUsersCsv', () => {
  it('writes input, directory and expectations that agree row by row', async () => {
    const input = join(tmp, 'in.csv');
    const directory = join(tmp, 'dir.csv');
    const expectations = join(tmp, 'exp.csv');
    const res = await generateUsersCsv(input, 800, {
      seed: 11,
      directoryFile: directory,
      expectationsFile: expectations,
      invalidRate: 0.03,
      duplicateRate: 0.03,
      unknownRate: 0.05,
      extraDirectoryUsers: 5,
    });
    const dir = parse(readFileSync(directory), { columns: true }) as Array<{ id: string; login: string; activation: string; group: string }>;
    const exp = parse(readFileSync(expectations), { columns: true }) as Array<{ row: string; outcome: string; errorCode: string }>;
    expect(dir).toHaveLength(res.directoryUsers);
    expect(exp).toHaveLength(800);
    expect(new Set(dir.map((u) => u.id)).size).toBe(dir.length);
    expect(new Set(dir.map((u) => u.login)).size).toBe(dir.length);
    for (const u of dir) {
      expect(u.id).toMatch(/^00u[A-Za-z0-9]{17}$/);
      expect(u.activation).toMatch(/^(never|\d+)$/);
      expect(u.group).toMatch(/^00g[a-z0-9]{16}a$/);
    }
    const byId = new Map(dir.map((u) => [u.id, u]));
    const byLogin = new Map(dir.map((u) => [u.login.toLowerCase(), u]));
    let i = 0;
    for await (const r of readInput(input)) {
      const e = exp[i++]!;
      expect(Number(e.row)).toBe(r.value.row);
      const user = (r.value.userId && byId.get(r.value.userId)) || (r.value.login && byLogin.get(r.value.login.toLowerCase()));
      if (e.errorCode === 'INVALID_INPUT') expect(r.ok).toBe(false);
      else expect(r.ok).toBe(true);
      if (e.errorCode === 'E0000007') expect(user).toBeFalsy();
      if (e.outcome === 'activated') expect(user && user.activation).toMatch(/^\d+$/);
      if (e.outcome === 'expired') expect(user && user.activation).toBe('never');
    }
    expect(i).toBe(800);
    const s = await inspectInput(input);
    expect(s.duplicateCount).toBe(res.kinds.duplicate);
    expect(s.invalidCount).toBe(res.kinds.invalid);
    expect(exp.filter((e) => e.errorCode === 'DUPLICATE_ROW')).toHaveLength(res.kinds.duplicate);
  });

  it('is deterministic per seed', async () => {
    const a = join(tmp, 'a.csv');
    const b = join(tmp, 'b.csv');
    const c = join(tmp, 'c.csv');
    await generateUsersCsv(a, 300, { seed: 5 });
    await generateUsersCsv(b, 300, { seed: 5 });
    await generateUsersCsv(c, 300, { seed: 6 });
    const [ha, hb, hc] = await Promise.all([a, b, c].map(async (f) => (await inspectInput(f)).sha256));
    expect(ha).toBe(hb);
    expect(ha).not.toBe(hc);
  });

  it('group ids are 20 characters', () => {
    expect(groupId('finance')).toBe('00gfinance000000000a');
    expect(groupId('Customer Success Europe')).toHaveLength(20);
  });
});
