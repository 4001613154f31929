/**
 * Writing the CSVs the tool produces (the outcome report, audit inventories, dry-run
 * plans) and reading reports back (`reenroll --from`).
 *
 * Every written file is created owner-only (0600) as a temp file in the target's
 * directory, fsynced and renamed over the target, so a crash never leaves half a
 * report and readers never see one; the temp file is listed in src/tmp-files.ts, so
 * that an exit or a signal in the middle of a write leaves no copy of user data
 * behind. Every cell is neutralised against CSV injection (OWASP): a cell a spreadsheet
 * would run as a formula gets a leading single quote, which readReport takes off
 * again. NUL characters are written as U+FFFD. `bom` (--excel) starts the file with a
 * UTF-8 byte order mark, without which Excel reads UTF-8 as the local code page
 * ("JÃ¼rgen"); readers here skip it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { InputFileError } from '../errors.js';
import { trackTempFile } from '../tmp-files.js';
import { ByteGuard } from './byte-guard.js';
import { inputError, openInput, REPORT_INPUT } from './input-file.js';
import { showValue } from './input-row.js';
import { describeWriteFailure, nonFileKind, ReportWriteError } from './report-target.js';

export { checkReportTarget, ReportWriteError } from './report-target.js';

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
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface WriteCsvOptions {
  /** Start with a UTF-8 byte order mark, so Excel reads the file as UTF-8 (--excel). */
  bom?: boolean;
}

/** Run a file-system step of a write; its failure becomes a ReportWriteError naming `file`. */
async function step<T>(file: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof ReportWriteError) throw err;
    throw new ReportWriteError(file, describeWriteFailure(err), (err as NodeJS.ErrnoException)?.code);
  }
}

/** Refuse to rename over something that is not a regular file (a directory, /dev/null). */
async function refuseNonRegularTarget(file: string): Promise<void> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  const kind = st && nonFileKind(st);
  if (kind) throw new ReportWriteError(file, `it is ${kind}, not a regular file`);
}

/**
 * Write a CSV with a header row: `columns` in this order, each row's missing cells
 * empty, every cell neutralised. Atomic (temp file + fsync + rename), mode 0600.
 * Returns the row count and the written file's SHA-256. A file-system failure throws
 * ReportWriteError (naming the file); an error of the row source passes as it is.
 * Either way no temp file is left and an earlier file at `file` is unchanged.
 */
export async function writeCsv(
  file: string,
  columns: readonly string[],
  rows: Rows<Record<string, string | number | undefined | null>>,
  opts: WriteCsvOptions = {},
): Promise<{ rows: number; sha256: string }> {
  const dir = dirname(file);
  await step(file, () => refuseNonRegularTarget(file));
  await step(file, () =>
    mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      // mkdir -p meets a file where a folder of the path should be
      if (err.code === 'EEXIST') throw new ReportWriteError(file, describeWriteFailure({ code: 'ENOTDIR' }), 'ENOTDIR');
      throw err;
    }),
  );
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const forget = trackTempFile(tmp);
  const hash = createHash('sha256');
  let count = 0;
  let handle: FileHandle | undefined;
  try {
    handle = await step(file, () => open(tmp, 'wx', 0o600));
    const h = handle;
    await step(file, () => h.chmod(0o600));
    const put = async (buf: Buffer): Promise<void> => {
      hash.update(buf);
      await step(file, () => h.write(buf));
    };
    const write = async (records: string[][]): Promise<void> => {
      // csv-stringify quotes only the configured line ending (LF); a lone CR must be quoted too,
      // or a cell ending in CR would read back as a CRLF line ending.
      await put(Buffer.from(stringify(records, { record_delimiter: 'unix', quoted_match: /\r/ }), 'utf8'));
    };
    if (opts.bom) await put(UTF8_BOM);
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
    await step(file, () => h.sync());
    handle = undefined;
    await step(file, () => h.close());
    await step(file, () => rename(tmp, file));
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    forget();
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
export function writeReport(file: string, rows: Rows<ReportRow>, opts: WriteCsvOptions = {}): Promise<{ rows: number; sha256: string }> {
  return writeCsv(file, REPORT_COLUMNS, rows, opts);
}

/**
 * Read a report written by writeReport (`-`: from standard input), cells restored
 * exactly (the injection guard taken off, a BOM skipped). Throws InputFileError when
 * the file is missing or not a regular file, is not a report (naming the missing
 * columns), is not UTF-8 text, or a row does not have the header's field count.
 */
export async function* readReport(file: string): AsyncGenerator<ReportRow> {
  const { handle, label } = await openInput(file, REPORT_INPUT);
  const source = handle.createReadStream({ start: 0 });
  const guard = new ByteGuard(label);
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
            label,
            `not a bulk-enroll report: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found ${names.map(showValue).join(', ')})`,
            info.lines,
          );
        }
        index = new Map(REPORT_COLUMNS.map((c) => [c, names.indexOf(c)]));
        width = record.length;
        continue;
      }
      if (record.length !== width) {
        throw new InputFileError(label, `a report row has ${record.length} fields, the header has ${width}`, info.lines);
      }
      const row = {} as ReportRow;
      for (const [c, i] of index) row[c] = unneutraliseCell(record[i] ?? '');
      yield row;
    }
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new InputFileError(label, `not a readable report (${err.code}: ${err.message})`, line);
    }
    throw inputError(label, err, REPORT_INPUT);
  } finally {
    parser.destroy();
    source.destroy();
  }
  if (!index) {
    throw new InputFileError(label, `the report is empty (expected a header row ${REPORT_COLUMNS.join(',')})`);
  }
}
