/**
 * The report writer and reader: exact columns, round trip of every cell including
 * formula-like ones, the CSV-injection guard as a spreadsheet sees it, owner-only
 * mode, atomic replace (a failing writer leaves the old report and no temp file).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  neutraliseCell,
  readReport,
  REPORT_COLUMNS,
  unneutraliseCell,
  writeCsv,
  writeReport,
  type ReportRow,
} from '../../src/csv/report.js';
import { InputFileError } from '../../src/errors.js';
import { error } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'be-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function reportRow(row: number, over: Partial<ReportRow> = {}): ReportRow {
  const base = Object.fromEntries(REPORT_COLUMNS.map((c) => [c, ''])) as ReportRow;
  return {
    ...base,
    row: String(row),
    userId: `00u${String(row).padStart(17, 'a')}`,
    factorType: 'push',
    provider: 'OKTA',
    outcome: 'activated',
    status: 'ACTIVE',
    attempts: '1',
    enrolledAt: '2024-05-01T10:00:00.000Z',
    finishedAt: '2024-05-01T10:00:05.000Z',
    ...over,
  };
}

async function readAll(file: string): Promise<ReportRow[]> {
  const out: ReportRow[] = [];
  for await (const r of readReport(file)) out.push(r);
  return out;
}

const FORMULAS = ['=1+1', '+SUM(A1:A2)', '-2+3', '@cmd', '\t=x', '\r=x', "'=already quoted", "''+two", '=HYPERLINK("http://x","y")'];

describe('neutraliseCell / unneutraliseCell', () => {
  it('guards the OWASP formula starts and nothing else', () => {
    expect(FORMULAS.map(neutraliseCell)).toEqual(FORMULAS.map((v) => `'${v}`));
    for (const v of ['', 'Alice', "Alice's iPhone", "'quoted", ' =spaced', '1-2', 'a=b', '00uX']) expect(neutraliseCell(v)).toBe(v);
  });

  it('round-trips every string and never leaves a formula start', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^'*[=+\-@\t\r'].{0,5}$/)), (v) => {
        const n = neutraliseCell(v);
        expect(unneutraliseCell(n)).toBe(v);
        expect(/^[=+\-@\t\r]/.test(n)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('writeReport / readReport', () => {
  it('writes exactly the report columns in order, one line per row, formula cells guarded', async () => {
    const file = join(tmp, 'r1.csv');
    const rows = [
      reportRow(1, { deviceName: '=HYPERLINK("https://evil.example","Click")' }),
      reportRow(2, { outcome: 'failed', status: '', errorCode: 'E0000007', errorSummary: 'Not found: Resource not found: x (User)', attempts: '1' }),
      reportRow(3, { deviceName: 'Zoë\'s "work" Pixel, 8\nsecond line', note: '@mention', login: '+44 20 7946 0000' }),
    ];
    const res = await writeReport(file, rows);
    expect(res.rows).toBe(3);
    const bytes = readFileSync(file);
    expect(res.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    // What a spreadsheet or any CSV reader sees: the header, and no cell starting a formula.
    const parsed = parse(bytes) as string[][];
    expect(parsed[0]).toEqual([...REPORT_COLUMNS]);
    expect(parsed).toHaveLength(4);
    for (const record of parsed) for (const cell of record) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(parsed[1]![5]).toBe('\'=HYPERLINK("https://evil.example","Click")');

    // What bulk-enroll reads back: exactly what was written.
    expect(await readAll(file)).toEqual(rows);
  });

  it('round-trips arbitrary cell values', async () => {
    const file = join(tmp, 'r-prop.csv');
    const cell = fc.oneof(fc.string(), fc.constantFrom(...FORMULAS, 'a\r', '\r', 'x\r\n', '\n', '"', ','), fc.string({ unit: 'binary' }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record(Object.fromEntries(REPORT_COLUMNS.map((c) => [c, cell])) as Record<keyof ReportRow, fc.Arbitrary<string>>), { maxLength: 8 }), async (rows) => {
        await writeReport(file, rows as ReportRow[]);
        const nulFree = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.replace(/\u0000/g, '\ufffd')])));
        expect(await readAll(file)).toEqual(nulFree);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps carriage returns and line breaks inside cells', async () => {
    const file = join(tmp, 'r-cr.csv');
    const rows = [reportRow(1, { deviceName: 'a\r', note: 'x\ry', errorSummary: 'b\n', delivery: '\r' })];
    await writeReport(file, rows);
    expect(await readAll(file)).toEqual(rows);
  });

  it('creates the file owner-only, also when replacing a world-readable one', async () => {
    const file = join(tmp, 'r-mode.csv');
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeReport(file, [reportRow(1)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('replaces atomically: a failing row source leaves the old report and no temp file', async () => {
    const dir = mkdtempSync(join(tmp, 'atomic-'));
    const file = join(dir, 'report.csv');
    await writeReport(file, [reportRow(1)]);
    const before = readFileSync(file);
    async function* failing(): AsyncGenerator<ReportRow> {
      for (let i = 1; i <= 2000; i++) yield reportRow(i);
      throw new Error('Redis went away');
    }
    await expect(writeReport(file, failing())).rejects.toThrow('Redis went away');
    expect(readFileSync(file)).toEqual(before);
    expect(readdirSync(dir)).toEqual(['report.csv']);
    // and a good write replaces it
    await writeReport(file, [reportRow(7)]);
    expect((await readAll(file)).map((r) => r.row)).toEqual(['7']);
    expect(readdirSync(dir)).toEqual(['report.csv']);
  });

  it('streams from an async source and creates the directory', async () => {
    const file = join(tmp, 'nested', 'deeper', 'r.csv');
    async function* many(): AsyncGenerator<ReportRow> {
      for (let i = 1; i <= 5000; i++) yield reportRow(i);
    }
    expect((await writeReport(file, many())).rows).toBe(5000);
    let n = 0;
    for await (const r of readReport(file)) expect(r.row).toBe(String(++n));
    expect(n).toBe(5000);
  });

  it('writeCsv writes any columns, missing cells empty, numbers as text', async () => {
    const file = join(tmp, 'generic.csv');
    await writeCsv(file, ['userId', 'groups', 'count'], [{ userId: '00u1', count: '-3' }, { userId: '@x', groups: 'a;b', count: '5' }]);
    expect(readFileSync(file, 'utf8')).toBe("userId,groups,count\n00u1,,'-3\n'@x,a;b,5\n");
  });

  it('readReport names the missing columns of a file that is not a report', async () => {
    const file = join(tmp, 'not-a-report.csv');
    writeFileSync(file, 'row,userId,outcome\n1,00u1,activated\n');
    const e = await error(readAll(file));
    expect(e).toBeInstanceOf(InputFileError);
    expect(e.message).toBe(
      `${file}, line 1: not a bulk-enroll report: missing columns login, factorType, provider, deviceName, status, factorId, errorCode, errorSummary, attempts, enrolledAt, finishedAt, note, delivery (found "row", "userId", "outcome")`,
    );
  });

  it('readReport refuses an input CSV, an empty file, a ragged row and a missing file', async () => {
    const input = join(tmp, 'input.csv');
    writeFileSync(input, 'userId,factorType\n00u1,push\n');
    expect((await error(readAll(input))).message).toMatch(/not a bulk-enroll report: missing columns row, login, /);

    const empty = join(tmp, 'empty-report.csv');
    writeFileSync(empty, '');
    expect((await error(readAll(empty))).message).toBe(`${empty}: the report is empty (expected a header row ${REPORT_COLUMNS.join(',')})`);

    const ragged = join(tmp, 'ragged.csv');
    await writeReport(ragged, [reportRow(1)]);
    writeFileSync(ragged, readFileSync(ragged, 'utf8') + '2,00u2\n');
    const e = await error(readAll(ragged));
    expect(e).toBeInstanceOf(InputFileError);
    expect(e.message).toBe(`${ragged}, line 3: a report row has 2 fields, the header has 16`);

    const missing = join(tmp, 'missing.csv');
    expect((await error(readAll(missing))).message).toBe(`${missing}: report not found`);
  });
});
