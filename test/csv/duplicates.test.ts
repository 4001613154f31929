/**
 * Duplicate rows across userId and login rows: a row giving both ties the two, wherever
 * it is in the file, and every later row for that user and factor type is a duplicate
 * of the first. Checked against a plain reference (all keys in memory) on random files,
 * on the cases a person would write, and on a large file through inspectInput.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DuplicateFinder } from '../../src/csv/duplicates.js';
import type { InputRow } from '../../src/csv/input-row.js';
import { inspectInput } from '../../src/csv/read-input.js';

const tmp = mkdtempSync(join(tmpdir(), 'be-dups-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function* each(rows: readonly InputRow[]): AsyncGenerator<InputRow> {
  yield* rows;
}

async function find(rows: readonly InputRow[], cap = 1000) {
  const finder = new DuplicateFinder();
  for (const r of rows) finder.see(r);
  return finder.find(() => each(rows), cap);
}

/** The reference: every key in a map, groups from all rows first, then one decision per row. */
function reference(rows: readonly InputRow[]): Array<[number, number]> {
  const parent = new Map<string, string>();
  const root = (k: string): string => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const keys = (r: InputRow) => [r.userId ? `u:${r.userId}` : '', r.login ? `l:${r.login.toLowerCase()}` : ''].filter(Boolean);
  for (const r of rows) for (const k of keys(r)) if (!parent.has(k)) parent.set(k, k);
  for (const r of rows) {
    const [a, b] = keys(r);
    if (a && b && root(a) !== root(b)) parent.set(root(b), root(a));
  }
  const first = new Map<string, number>();
  const dups: Array<[number, number]> = [];
  for (const r of rows) {
    const group = `${root(keys(r)[0]!)}|${r.factorType}`;
    const f = first.get(group);
    if (f === undefined) first.set(group, r.row);
    else dups.push([r.row, f]);
  }
  return dups;
}

const row = (n: number, userId: string | undefined, login: string | undefined, factorType = 'push'): InputRow => ({
  row: n,
  ...(userId ? { userId } : {}),
  ...(login ? { login } : {}),
  factorType,
  provider: 'OKTA',
});

describe('DuplicateFinder', () => {
  it('a tie after both rows still makes the later one a duplicate of the earlier (a third pass)', async () => {
    const rows = [row(1, 'ID1', undefined), row(2, undefined, 'jane@example.com'), row(3, 'ID1', 'Jane@Example.com', 'sms')];
    const d = await find(rows);
    expect(d.count).toBe(1);
    expect(d.list.map((x) => [x.row, x.duplicateOf, x.reason])).toEqual([
      [2, 1, 'same user and factorType (push) as row 1 (row 3 gives both a userId and a login of this user)'],
    ]);
    expect(d.list[0]).toMatchObject({ login: 'jane@example.com', factorType: 'push', errorCode: 'DUPLICATE_ROW' });
  });

  it('ties hold across factor types; the first row in the file is the original, whatever names it', async () => {
    const rows = [
      row(1, undefined, 'jane@example.com'),
      row(2, 'ID1', undefined),
      row(3, 'ID1', 'jane@example.com'),
      row(4, 'ID2', 'bob@example.com', 'sms'),
      row(5, undefined, 'BOB@example.com', 'push'),
      row(6, 'ID2', undefined, 'push'),
      row(7, undefined, 'bob@example.com', 'sms'),
    ];
    const d = await find(rows);
    expect(d.list.map((x) => [x.row, x.duplicateOf, x.reason.split(' and ')[0]])).toEqual([
      [2, 1, 'same user'],
      [3, 1, 'same login'],
      [6, 5, 'same user'],
      [7, 4, 'same login'],
    ]);
  });

  it('two userIds given with one login are one user (the file contradicts itself; the later rows fail)', async () => {
    const rows = [row(1, 'ID1', 'jane@example.com'), row(2, 'ID2', 'jane@example.com'), row(3, 'ID2', undefined)];
    expect((await find(rows)).list.map((x) => [x.row, x.duplicateOf])).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it('no repeated key: no candidates, no second pass', async () => {
    const finder = new DuplicateFinder();
    for (let i = 1; i <= 1000; i++) finder.see(row(i, `ID${i}`, `u${i}@example.com`));
    expect(finder.candidateCount).toBe(0);
    let read = 0;
    const d = await finder.find(() => {
      read++;
      return each([]);
    }, 10);
    expect([d.count, read]).toEqual([0, 0]);
  });

  it('agrees with the reference on random files (ids and logins from small pools, ties anywhere)', async () => {
    const rowArb = fc.record({
      u: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      l: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
      upper: fc.boolean(),
      f: fc.constantFrom('push', 'sms', 'call', 'email'),
    }).filter((r) => r.u !== undefined || r.l !== undefined);
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 5 }), async (spec, cap) => {
        const rows = spec.map((s, i) =>
          row(i + 1, s.u !== undefined ? `00u${s.u}` : undefined, s.l !== undefined ? (s.upper ? `USER${s.l}@X.COM` : `user${s.l}@x.com`) : undefined, s.f),
        );
        const want = reference(rows);
        const got = await find(rows, cap);
        expect(got.count).toBe(want.length);
        expect(got.list.map((x) => [x.row, x.duplicateOf])).toEqual(want.slice(0, cap));
      }),
      { numRuns: 200 },
    );
  });
});

describe('inspectInput: duplicates through ties in a large file', () => {
  it('10,000 users named by id, by login and tied at the end: every later row found, the list capped, the counts exact', async () => {
    const users = 10_000;
    const lines = ['userId,login'];
    const id = (i: number) => `00u${String(i).padStart(17, '0')}`;
    for (let i = 0; i < users; i++) lines.push(`${id(i)},`);
    for (let i = 0; i < users; i++) lines.push(`,user${i}@example.com`);
    for (let i = 0; i < users; i++) lines.push(`${id(i)},USER${i}@example.com`);
    const f = join(tmp, 'ties.csv');
    writeFileSync(f, `${lines.join('\n')}\n`);
    const s = await inspectInput(f);
    expect([s.rows, s.valid, s.duplicateCount, s.duplicates.length]).toEqual([3 * users, users, 2 * users, 1000]);
    expect(s.duplicates[0]).toMatchObject({ row: users + 1, duplicateOf: 1, reason: `same user and factorType (push) as row 1 (row ${2 * users + 1} gives both a userId and a login of this user)` });
  });
});
