/**
 * Writing the CSVs the tool produces (the outcome report, audit inventories, dry-run
 * plans) and reading reports back (`reenroll --from`).
 *
 * Every written file is created owner-only (0600) as a temp file in the target's
 * directory, fsynced and renamed over the target, so a crash never leaves half a
 * report and readers never see one. Every cell is neutralised against CSV injection
 * (OWASP): a cell a spreadsheet would run as a formula gets a leading single quote,
 * which readReport takes off again. NUL characters are written as U+FFFD.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { InputFileError } from '../errors.js';
import { ByteGuard } from './byte-guard.js';
import { showValue } from './input-row.js';

export const REPORT_COLUMNS = [
  'row',
  'userId',
  'login',
  'factorType',
  'provider',
  'deviceName',
  'outcome',
  'status',
  'factorId',
  'errorCode',
  'errorSummary',
  'attempts',
  'enrolledAt',
  'finishedAt',
  'note',
  'delivery',
] as const;
export type ReportColumn = (typeof REPORT_COLUMNS)[number];
export type ReportRow = Record<ReportColumn, string>;

/** Starts a formula in Excel, LibreOffice or Google Sheets (OWASP CSV injection). */
const FORMULA_START = /^'*[=+\-@\t\r]/;
const GUARDED = /^'+[=+\-@\t\r]/;

/**
 * Neutralise a cell: a value starting with = + - @ TAB or CR gets a leading single
 * quote. A value that already starts with quotes followed by one of those gets one
 * more, so unneutraliseCell(neutraliseCell(v)) === v for every v.
 */
export function neutraliseCell(v: string): string {
  return FORMULA_START.test(v) ? `'${v}` : v;
}

/** Undo neutraliseCell: take off exactly the one quote it added. */
export function unneutraliseCell(v: string): string {
  return GUARDED.test(v) ? v.slice(1) : v;
}

type Rows<T> = AsyncIterable<T> | Iterable<T>;

const BATCH_ROWS = 512;

/**
 * Write a CSV with a header row: `columns` in this order, each row's missing cells
 * empty, every cell neutralised. Atomic (temp file + fsync + rename), mode 0600.
 * Returns the row count and the written file's SHA-256.
 */
export async function writeCsv(
  file: string,
  columns: readonly string[],
  rows: Rows<Record<string, string | number | undefined | null>>,
): Promise<{ rows: number; sha256: string }> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  const handle = await open(tmp, 'wx', 0o600);
  let count = 0;
  let closed = false;
  try {
    await handle.chmod(0o600);
    const write = async (records: string[][]): Promise<void> => {
      // csv-stringify quotes only the configured line ending (LF); a lone CR must be quoted too,
      // or a cell ending in CR would read back as a CRLF line ending.
      const text = stringify(records, { record_delimiter: 'unix', quoted_match: /\r/ });
      const buf = Buffer.from(text, 'utf8');
      hash.update(buf);
      await handle.write(buf);
    };
    await write([columns.map((c) => neutraliseCell(c))]);
    let batch: string[][] = [];
    for await (const row of rows as AsyncIterable<Record<string, string | number | undefined | null>>) {
      batch.push(columns.map((c) => neutraliseCell(cellText(row[c]))));
      count++;
      if (batch.length >= BATCH_ROWS) {
        await write(batch);
        batch = [];
      }
    }
    if (batch.length) await write(batch);
    await handle.sync();
    await handle.close();
    closed = true;
    await rename(tmp, file);
  } catch (err) {
    if (!closed) await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
  return { rows: count, sha256: hash.digest('hex') };
}

/** A cell's text; NUL (which makes many tools, and readReport, take the file for binary) becomes U+FFFD. */
function cellText(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : String(v);
  return s.includes('\u0000') ? s.replace(/\u0000/g, '\ufffd') : s;
}

/** Make the rename durable (best effort: not every platform can fsync a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // ignored: the rename itself is atomic
  }
}

/** Write the outcome report: REPORT_COLUMNS in order, one row per input row. */
export function writeReport(file: string, rows: Rows<ReportRow>): Promise<{ rows: number; sha256: string }> {
  return writeCsv(file, REPORT_COLUMNS, rows);
}

/**
 * Read a report written by writeReport, cells restored exactly (the injection guard
 * taken off). Throws InputFileError when the file is not a report (naming the missing
 * columns), is not UTF-8 text, or a row does not have the header's field count.
 */
export async function* readReport(file: string): AsyncGenerator<ReportRow> {
  const source = createReadStream(file);
  const guard = new ByteGuard(file);
  const parser = parse({ bom: true, record_delimiter: ['\r\n', '\n'], skip_empty_lines: true, relax_column_count: true, info: true });
  pipeline(source, guard, parser, () => {});
  let index: Map<ReportColumn, number> | undefined;
  let width = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = item;
      if (!index) {
        const names = record.map((n) => unneutraliseCell(n).trim());
        const missing = REPORT_COLUMNS.filter((c) => !names.includes(c));
        if (missing.length) {
          throw new InputFileError(
            file,
            `not a bulk-enroll report: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found ${names.map(showValue).join(', ')})`,
            info.lines,
          );
        }
        index = new Map(REPORT_COLUMNS.map((c) => [c, names.indexOf(c)]));
        width = record.length;
        continue;
      }
      if (record.length !== width) {
        throw new InputFileError(file, `a report row has ${record.length} fields, the header has ${width}`, info.lines);
      }
      const row = {} as ReportRow;
      for (const [c, i] of index) row[c] = unneutraliseCell(record[i] ?? '');
      yield row;
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new InputFileError(file, `not a readable report (${err.code}: ${err.message})`, line);
    }
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') throw new InputFileError(file, 'report not found');
    if (code === 'EISDIR') throw new InputFileError(file, 'is a directory, expected a report CSV');
    if (code === 'EACCES') throw new InputFileError(file, 'cannot be read (permission denied)');
    throw err;
  } finally {
    parser.destroy();
    source.destroy();
  }
  if (!index) {
    throw new InputFileError(file, `the report is empty (expected a header row ${REPORT_COLUMNS.join(',')})`);
  }
}
