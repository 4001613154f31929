/**
 * Reading the input CSV: streamed through ByteGuard (UTF-8 text only) into csv-parse,
 * never read whole. readInput() yields one RowResult per data row; inspectInput() is
 * the first pass that validates the whole file, counts rows and duplicates and takes
 * the SHA-256 of its raw bytes, so a file-level problem stops a run before anything
 * is enqueued.
 *
 * Row numbers: data rows are numbered from 1 in file order, the header excluded; a
 * quoted field spanning several lines counts once; empty lines and rows whose cells
 * are all empty (spreadsheet leftovers like ",,,") are not data rows. Rows left out
 * by match / skip / maxRows keep their numbers, so row N is always the file's Nth
 * data row.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { CsvError, parse, type Options } from 'csv-parse';
import { ConfigError, InputFileError } from '../errors.js';
import { ByteGuard } from './byte-guard.js';
import { canonicalColumn, INPUT_COLUMNS, normaliseHeaderName, type InputColumn } from './columns.js';
import { filterMatches, type RowFilter } from './filters.js';
import { showValue, validateRow, type InvalidRow, type RowCells, type RowResult } from './input-row.js';
import { KeyFilter } from './key-filter.js';

export type { InputRow, InvalidRow, RowResult } from './input-row.js';
export { parseFilterFlags, type RowFilter } from './filters.js';

export const DEFAULT_MAX_FIELD_BYTES = 8 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** How many invalid / duplicate rows inspectInput keeps in its lists (the counts are exact). */
export const SUMMARY_LIST_CAP = 1000;

export interface ReadInputOptions {
  /** Keep only rows whose cell in `column` matches (all filters must match). */
  match?: RowFilter[];
  /** Leave out rows whose cell in `column` matches any of these. */
  skip?: RowFilter[];
  /** Yield at most this many rows (after match / skip), then stop reading. */
  maxRows?: number;
  /** Bound on one field, in bytes (default 8 KiB): over it the file is refused. */
  maxFieldBytes?: number;
  /** Bound on one record (a line, or several for a multi-line quoted field), in bytes (default 64 KiB). */
  maxLineBytes?: number;
  /** Accept (and ignore) columns that are not input columns, e.g. an HR export's department. */
  allowUnknownColumns?: boolean;
  /**
   * inspectInput: look for duplicate rows (default true). The runner finds duplicates
   * itself, in Redis, so its first pass leaves this off and keeps no per-row memory.
   */
  countDuplicates?: boolean;
}

export interface DuplicateRow {
  row: number;
  /** The earlier row naming the same user (same userId, or same login) and factorType. */
  duplicateOf: number;
  userId?: string;
  login?: string;
  factorType: string;
  errorCode: 'DUPLICATE_ROW';
  reason: string;
}

export interface InputSummary {
  file: string;
  bytes: number;
  sha256: string;
  /** Rows yielded (after match / skip / maxRows): rows = valid + invalidCount + duplicateCount. */
  rows: number;
  /** Valid rows that are not duplicates of an earlier row. */
  valid: number;
  /** The first SUMMARY_LIST_CAP invalid rows. */
  invalid: InvalidRow[];
  invalidCount: number;
  duplicateCount: number;
  /** The first SUMMARY_LIST_CAP duplicate rows. */
  duplicates: DuplicateRow[];
  /** Data rows left out by match / skip. */
  skipped: number;
  /** The header's column names as written in the file. */
  columns: string[];
}

interface Header {
  names: string[];
  canonical: Array<InputColumn | undefined>;
  match: Array<{ index: number; filter: RowFilter }>;
  skip: Array<{ index: number; filter: RowFilter }>;
}

interface ParsedRecord {
  record: string[];
  line: number;
}

function positiveInt(value: number | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError([`${name}: expected an integer >= ${min}, got ${String(value)}`]);
  }
  return value;
}

async function checkFile(file: string): Promise<number> {
  let size: number;
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new InputFileError(file, 'is a directory, expected a CSV file');
    // A pipe cannot be read twice (the first pass and the run each read the file).
    if (!st.isFile()) throw new InputFileError(file, 'is not a regular file (a pipe or a device?); save the CSV to a file first');
    size = st.size;
  } catch (err) {
    throw fsError(file, err);
  }
  return size;
}

function fsError(file: string, err: unknown): Error {
  if (err instanceof InputFileError || err instanceof ConfigError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new InputFileError(file, 'file not found');
  if (code === 'EACCES' || code === 'EPERM') return new InputFileError(file, 'cannot be read (permission denied)');
  if (code === 'EISDIR') return new InputFileError(file, 'is a directory, expected a CSV file');
  return new InputFileError(file, `cannot be read (${code ?? (err as Error)?.message ?? String(err)})`);
}

function buildHeader(file: string, record: string[], line: number, opts: ReadInputOptions): Header {
  const names = record.map((n) => n.trim());
  const problems: string[] = [];
  const canonical = names.map((n) => canonicalColumn(n));
  const filterColumns = new Set([...(opts.match ?? []), ...(opts.skip ?? [])].map((f) => normaliseHeaderName(f.column)));

  const empty = names.flatMap((n, i) => (n === '' ? [i + 1] : []));
  if (empty.length) {
    problems.push(`the header has no name for column${empty.length > 1 ? 's' : ''} ${empty.join(', ')} (every column needs a name)`);
  }
  const firstByKey = new Map<string, number>();
  names.forEach((n, i) => {
    if (n === '') return;
    const key = canonical[i] ?? normaliseHeaderName(n);
    const first = firstByKey.get(key);
    if (first === undefined) firstByKey.set(key, i);
    else {
      problems.push(
        `the header names column ${showValue(canonical[i] ?? n)} twice (${showValue(names[first]!)} in column ${first + 1} and ${showValue(n)} in column ${i + 1})`,
      );
    }
  });
  const unknown = names.filter(
    (n, i) => n !== '' && canonical[i] === undefined && !filterColumns.has(normaliseHeaderName(n)),
  );
  if (unknown.length && !opts.allowUnknownColumns) {
    problems.push(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map(showValue).join(', ')} (known columns: ${INPUT_COLUMNS.join(', ')}; ` +
        'names are case-insensitive and may use spaces or underscores, like user_id)',
    );
  }
  if (!canonical.includes('userId') && !canonical.includes('login')) {
    problems.push(
      `the header has neither a userId nor a login column (expected at least one of them; found ${names.map(showValue).join(', ')})`,
    );
  }
  if (problems.length) throw new InputFileError(file, problems.join('; '), line);

  const resolve = (filter: RowFilter) => {
    const want = canonicalColumn(filter.column) ?? normaliseHeaderName(filter.column);
    const index = names.findIndex((n, i) => (canonical[i] ?? normaliseHeaderName(n)) === want);
    if (index === -1) {
      throw new ConfigError([
        `filter on column ${showValue(filter.column)}: ${file} has no such column (its columns: ${names.join(', ')})`,
      ]);
    }
    return { index, filter };
  };
  return { names, canonical, match: (opts.match ?? []).map(resolve), skip: (opts.skip ?? []).map(resolve) };
}

function csvError(file: string, err: CsvError, headerNames: string[] | undefined, lastEnd: number, maxLineBytes: number): InputFileError {
  const at = err as CsvError & { lines?: number; column?: number | string };
  const line = typeof at.lines === 'number' ? at.lines : undefined;
  const columnName = (): string => {
    const c = at.column;
    const name = typeof c === 'number' ? headerNames?.[c]?.trim() : undefined;
    if (typeof c === 'number' && name) return ` (column ${c + 1}, ${showValue(name)})`;
    if (typeof c === 'number') return ` (column ${c + 1})`;
    return '';
  };
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new InputFileError(file, 'a quoted field is not closed (its opening quote has no closing quote before the end of the file)', lastEnd + 1);
    case 'CSV_MAX_RECORD_SIZE':
      return new InputFileError(
        file,
        `a record is longer than ${maxLineBytes} bytes, the limit for one line (a quoted field that is never closed does this: check the quotes from this line on)`,
        lastEnd + 1,
      );
    case 'INVALID_OPENING_QUOTE':
      return new InputFileError(
        file,
        `a quote appears inside an unquoted field${columnName()}; quote the whole field and double the quotes inside it, like "Bob ""B"" Smith"`,
        line,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
      return new InputFileError(
        file,
        `a quoted field has text after its closing quote${columnName()}; inside a quoted field write a quote as two quotes ("")`,
        line,
      );
    default:
      return new InputFileError(file, `not valid CSV (${err.code}: ${err.message})`, line);
  }
}

/** The internal reader: readInput plus a callback with the header. */
async function* readRows(
  file: string,
  opts: ReadInputOptions,
  onHeader?: (names: string[]) => void,
  onSkip?: () => void,
): AsyncGenerator<RowResult> {
  const maxFieldBytes = positiveInt(opts.maxFieldBytes, 'maxFieldBytes', DEFAULT_MAX_FIELD_BYTES);
  const maxLineBytes = positiveInt(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  const maxRows = opts.maxRows === undefined ? undefined : positiveInt(opts.maxRows, 'maxRows', 0, 0);
  await checkFile(file);

  let lastEnd = 0; // line on which the last complete record ended
  let headerNames: string[] | undefined; // as soon as the parser has it (errors can overtake the records)
  const source = createReadStream(file, { highWaterMark: 64 * 1024 });
  const guard = new ByteGuard(file);
  const options: Options<ParsedRecord, string[]> = {
    bom: true,
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    max_record_size: maxLineBytes,
    on_record: (record: string[], ctx): ParsedRecord => {
      lastEnd = ctx.lines;
      headerNames ??= record;
      return { record, line: ctx.lines };
    },
  };
  const parser = parse(options as unknown as Options);
  // Errors surface through the parser's iterator; the callback only keeps them from being unhandled.
  pipeline(source, guard, parser, () => {});

  let header: Header | undefined;
  let dataRows = 0;
  let yielded = 0;
  try {
    if (maxRows === 0) return;
    for await (const item of parser as unknown as AsyncIterable<ParsedRecord>) {
      const { record, line } = item;
      if (!header) {
        header = buildHeader(file, record, line, opts);
        onHeader?.(header.names);
        continue;
      }
      dataRows++;
      for (let i = 0; i < record.length; i++) {
        const field = record[i]!;
        if (field.length * 3 > maxFieldBytes && Buffer.byteLength(field) > maxFieldBytes) {
          const name = header.names[i];
          throw new InputFileError(
            file,
            `a field${name ? ` in column ${showValue(name)}` : ` in column ${i + 1}`} is ${Buffer.byteLength(field)} bytes, over the limit of ${maxFieldBytes} bytes per field`,
            line,
          );
        }
      }
      const cell = (index: number): string => (record[index] ?? '').trim();
      if (
        !header.match.every(({ index, filter }) => filterMatches(filter, cell(index))) ||
        header.skip.some(({ index, filter }) => filterMatches(filter, cell(index)))
      ) {
        onSkip?.();
        continue;
      }
      const cells: RowCells = {};
      const n = Math.min(record.length, header.names.length);
      for (let i = 0; i < n; i++) {
        const c = header.canonical[i];
        if (c) cells[c] = record[i]!;
      }
      const count = record.length === header.names.length ? undefined : { got: record.length, expected: header.names.length };
      yield validateRow(dataRows, cells, count);
      yielded++;
      if (maxRows !== undefined && yielded >= maxRows) return;
    }
  } catch (err) {
    if (err instanceof CsvError) throw csvError(file, err, headerNames, lastEnd, maxLineBytes);
    throw fsError(file, err);
  } finally {
    parser.destroy();
    source.destroy();
  }
  if (!header) {
    throw new InputFileError(file, `the file is empty (expected a header row such as "userId,factorType,deviceName" and one row per user)`);
  }
  if (dataRows === 0) {
    throw new InputFileError(file, `the file has a header row but no data rows (header: ${header.names.join(',')})`);
  }
}

/**
 * Stream the rows of an input CSV. File-level problems (missing, empty, header only,
 * not UTF-8 text, broken quotes, oversized fields, bad header) throw InputFileError;
 * bad filter columns and options throw ConfigError; a bad row is yielded as
 * { ok: false } and reading goes on.
 */
export function readInput(file: string, opts: ReadInputOptions = {}): AsyncGenerator<RowResult> {
  return readRows(file, opts);
}

/** SHA-256 and size of the file's raw bytes. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    throw fsError(file, err);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** The keys under which a row claims its user and factor type for duplicate detection. */
export function duplicateKeys(row: { userId?: string; login?: string; factorType: string }): string[] {
  const keys: string[] = [];
  if (row.userId) keys.push(`u\u0000${row.userId}\u0000${row.factorType}`);
  if (row.login) keys.push(`l\u0000${row.login.toLowerCase()}\u0000${row.factorType}`);
  return keys;
}

/**
 * The exact step of duplicate detection, over the candidate keys only: the later of two
 * valid rows sharing a key (the same userId, or the same login, and factorType) is a
 * duplicate of the first; a duplicate row claims none of its keys.
 */
async function countDuplicates(file: string, opts: ReadInputOptions, candidates: Set<string>, summary: InputSummary): Promise<void> {
  const first = new Map<string, number>();
  for await (const result of readRows(file, opts, () => {}, () => {})) {
    if (!result.ok) continue;
    const row = result.value;
    const keys = duplicateKeys(row).filter((k) => candidates.has(k));
    if (!keys.length) continue;
    let original: number | undefined;
    let by = '';
    for (const key of keys) {
      original = first.get(key);
      if (original !== undefined) {
        by = key.startsWith('u') ? 'userId' : 'login';
        break;
      }
    }
    if (original === undefined) {
      for (const key of keys) first.set(key, row.row);
      continue;
    }
    summary.valid--;
    summary.duplicateCount++;
    if (summary.duplicates.length < SUMMARY_LIST_CAP) {
      const dup: DuplicateRow = {
        row: row.row,
        duplicateOf: original,
        factorType: row.factorType,
        errorCode: 'DUPLICATE_ROW',
        reason: `same ${by} and factorType (${row.factorType}) as row ${original}`,
      };
      if (row.userId) dup.userId = row.userId;
      if (row.login) dup.login = row.login;
      summary.duplicates.push(dup);
    }
  }
}

/**
 * The first pass over an input file: validates every row, counts valid, invalid and
 * duplicate rows (the later of two rows for the same userId, or the same login, and
 * factorType), and takes the SHA-256 of the raw bytes. Throws InputFileError for
 * file-level problems.
 */
export async function inspectInput(file: string, opts: ReadInputOptions = {}): Promise<InputSummary> {
  const hashing = hashFile(file);
  hashing.catch(() => {}); // awaited below; the reader reports a missing file first
  const summary: InputSummary = {
    file,
    bytes: 0,
    sha256: '',
    rows: 0,
    valid: 0,
    invalid: [],
    invalidCount: 0,
    duplicateCount: 0,
    duplicates: [],
    skipped: 0,
    columns: [],
  };
  // Duplicates in two steps so memory stays flat: a fixed-size filter finds the keys that
  // may repeat, then (only if there are any) a second pass checks those keys exactly.
  const filter = opts.countDuplicates === false ? undefined : new KeyFilter();
  const candidates = new Set<string>();
  const rows = readRows(
    file,
    opts,
    (names) => (summary.columns = names),
    () => summary.skipped++,
  );
  for await (const result of rows) {
    summary.rows++;
    if (!result.ok) {
      summary.invalidCount++;
      if (summary.invalid.length < SUMMARY_LIST_CAP) summary.invalid.push(result.value);
      continue;
    }
    summary.valid++;
    if (filter) for (const key of duplicateKeys(result.value)) if (filter.addAndCheck(key)) candidates.add(key);
  }
  if (candidates.size) await countDuplicates(file, opts, candidates, summary);
  const { bytes, sha256 } = await hashing;
  summary.bytes = bytes;
  summary.sha256 = sha256;
  return summary;
}
