/**
 * Property tests (fast-check) of the CSV reader and the row validator: arbitrary
 * bytes, arbitrary text and arbitrary CSV-shaped records. Whatever the input, the
 * reader throws nothing but InputFileError, yields strictly increasing row numbers,
 * and every row it calls valid satisfies the input rules.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { E164_RE, FACTOR_TYPES, USER_ID_RE, validateRow, type InputRow, type RowCells } from '../../src/csv/input-row.js';
import { inspectInput, readInput, type RowResult } from '../../src/csv/read-input.js';
import { InputFileError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'be-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function expectValidRow(v: InputRow): void {
  expect(v.userId !== undefined || v.login !== undefined).toBe(true);
  if (v.userId !== undefined) expect(v.userId).toMatch(USER_ID_RE);
  if (v.login !== undefined) {
    expect(v.login.length).toBeGreaterThan(0);
    expect(v.login.length).toBeLessThanOrEqual(100);
    expect(v.login).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(v.login.toLowerCase()).not.toBe('me');
    expect(v.login).toBe(v.login.trim());
  }
  expect(FACTOR_TYPES).toContain(v.factorType);
  expect(v.provider.length).toBeGreaterThan(0);
  expect(v.provider).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  if (v.factorType === 'sms' || v.factorType === 'call') expect(v.phoneNumber).toMatch(E164_RE);
  else if (v.factorType === 'push' && v.phoneNumber !== undefined) expect(v.phoneNumber).toMatch(E164_RE); // optional: --sms-to-csv-phone
  else expect(v.phoneNumber).toBeUndefined();
  if (v.factorType === 'email') expect(v.email).toMatch(/^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  else expect(v.email).toBeUndefined();
}

/** Reads a file; returns the rows, or the InputFileError; anything else fails the property. */
async function readAll(content: string | Uint8Array): Promise<RowResult[] | InputFileError> {
  const file = join(tmp, `f${++n}.csv`);
  writeFileSync(file, content);
  const rows: RowResult[] = [];
  try {
    for await (const r of readInput(file)) rows.push(r);
  } catch (err) {
    if (err instanceof InputFileError) return err;
    throw err;
  }
  let last = 0;
  for (const r of rows) {
    expect(r.value.row).toBeGreaterThan(last);
    last = r.value.row;
    if (r.ok) expectValidRow(r.value);
    else {
      expect(r.value.errorCode).toBe('INVALID_INPUT');
      expect(r.value.reason.length).toBeGreaterThan(0);
    }
  }
  // inspectInput agrees with readInput and its totals add up.
  const s = await inspectInput(file);
  expect(s.rows).toBe(rows.length);
  expect(s.invalidCount).toBe(rows.filter((r) => !r.ok).length);
  expect(s.valid + s.invalidCount + s.duplicateCount).toBe(s.rows);
  return rows;
}

const HEADER_SPELLINGS: Record<string, string[]> = {
  userId: ['userId', 'user_id', 'USERID', 'User ID'],
  login: ['login', 'Login', 'username'],
  factorType: ['factorType', 'factor_type', 'Factor Type'],
  provider: ['provider'],
  deviceType: ['deviceType', 'device_type'],
  deviceName: ['deviceName', 'device_name', 'Device Name'],
  phoneNumber: ['phoneNumber', 'phone', 'phone_number'],
  email: ['email'],
};

const cellArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{1,20}$/) },
  { weight: 2, arbitrary: fc.constantFrom('push', 'sms', 'call', 'email', 'PUSH', 'u2f', '', ' ', 'me', 'OKTA', 'duo') },
  { weight: 2, arbitrary: fc.constantFrom('+14155550123', '555-1234', '+1 (415) 555-0100', 'jane@example.com', 'a@b', '"', ',', '\n', '\r\n', '=1+1') },
);

describe('fuzz: readInput / inspectInput', () => {
  it('arbitrary bytes: only InputFileError, valid rows obey the rules', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        await readAll(bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary text after a usable header: only InputFileError, valid rows obey the rules', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('userId,login,factorType,phoneNumber,email\n', '\uFEFFlogin\r\n', 'userId,deviceName\n'), fc.string({ unit: 'binary', maxLength: 300 }), async (header, body) => {
        await readAll(header + body);
      }),
      { numRuns: 300 },
    );
  });

  it('CSV-shaped records: every non-empty record is one row, numbered 1..k, cells read back exactly', async () => {
    const columns = fc
      .subarray(Object.keys(HEADER_SPELLINGS), { minLength: 1 })
      .filter((cols) => cols.includes('userId') || cols.includes('login'))
      .chain((cols) => fc.tuple(fc.constant(cols), fc.tuple(...cols.map((c) => fc.constantFrom(...HEADER_SPELLINGS[c]!)))));
    await fc.assert(
      fc.asyncProperty(
        columns.chain(([cols, spelled]) =>
          fc.record({
            cols: fc.constant(cols),
            spelled: fc.constant(spelled),
            records: fc.array(fc.array(cellArb, { minLength: cols.length, maxLength: cols.length }), { minLength: 1, maxLength: 12 }),
            crlf: fc.boolean(),
            bom: fc.boolean(),
          }),
        ),
        async ({ cols, spelled, records, crlf, bom }) => {
          const text = stringify([spelled, ...records], { record_delimiter: crlf ? 'windows' : 'unix', quoted_match: /^\s|\s$|[\r\n]/ });
          // (csv-stringify quotes only the configured line ending; the reader takes CRLF and LF, so any line break is quoted)
          const rows = await readAll((bom ? '\uFEFF' : '') + text);
          const keep = records.filter((r) => r.some((c) => c.trim() !== ''));
          if (rows instanceof InputFileError) {
            // Only a file with no data rows (all records empty) or a NUL byte may be refused.
            expect(keep.length === 0 || records.some((r) => r.some((c) => c.includes('\u0000')))).toBe(true);
            return;
          }
          expect(rows.map((r) => r.value.row)).toEqual(keep.map((_, i) => i + 1));
          rows.forEach((r, i) => {
            const cells = keep[i]!;
            const cell = (c: string) => cells[cols.indexOf(c)]!.trim();
            if (r.ok) {
              if (cols.includes('userId') && cell('userId')) expect(r.value.userId).toBe(cell('userId'));
              if (cols.includes('login') && cell('login')) expect(r.value.login).toBe(cell('login'));
              if (cols.includes('deviceName') && cell('deviceName')) expect(r.value.deviceName).toBe(cell('deviceName'));
            }
            // and the validator alone agrees with the reader
            const direct: RowCells = {};
            cols.forEach((c, j) => (direct[c as keyof RowCells] = cells[j]));
            expect(validateRow(r.value.row, direct)).toEqual(r);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: validateRow', () => {
  const cells = fc.record(
    {
      userId: cellArb,
      login: cellArb,
      factorType: cellArb,
      provider: cellArb,
      deviceType: cellArb,
      deviceName: cellArb,
      phoneNumber: cellArb,
      email: cellArb,
    },
    { requiredKeys: [] },
  );

  it('never throws; valid rows obey the rules; invalid rows name a column', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), cells, fc.option(fc.nat({ max: 12 })), (row, c, got) => {
        const r = validateRow(row, c, got === null ? undefined : { got, expected: 8 });
        expect(r.value.row).toBe(row);
        if (r.ok) {
          expectValidRow(r.value);
          expect(got === null || got === 8).toBe(true);
        } else {
          expect(r.value.reason).toMatch(/^(row has \d+ fields?, header has 8|userId|login|factorType|provider|deviceType|deviceName|phoneNumber|email)/);
          expect(r.value.reason).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a row with a well-formed userId and no other cells is a valid push row', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{1,64}$/), (id) => {
        expect(validateRow(1, { userId: ` ${id} ` })).toEqual({ ok: true, value: { row: 1, userId: id, factorType: 'push', provider: 'OKTA' } });
      }),
    );
  });
});
