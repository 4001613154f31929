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
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { CsvError, parse, type Options } from 'csv-parse';
import { ConfigError, InputFileError } from '../errors.js';
import { ByteGuard } from './byte-guard.js';
import type { InputColumn } from './columns.js';
import { chooseDelimiter, oneCellHint, type Delimiter, type DelimiterSource } from './delimiter.js';
import { DuplicateFinder, type DuplicateRow } from './duplicates.js';
import { filterMatches, type RowFilter } from './filters.js';
import { buildHeader, ignoredColumns, type Header } from './input-header.js';
import { CSV_INPUT, inputError, openInput } from './input-file.js';
import { showValue, validateRow, type InputRow, type InvalidRow, type RowCells, type RowResult } from './input-row.js';

export type { InputRow, InvalidRow, RowResult } from './input-row.js';
export type { DuplicateRow } from './duplicates.js';
export { parseFilterFlags, type RowFilter } from './filters.js';

export const DEFAULT_MAX_FIELD_BYTES = 8 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;
/** How many invalid / duplicate rows inspectInput keeps in its lists (the counts are exact). */
export const SUMMARY_LIST_CAP = 1000;
/** The delimiters readInput takes (`delimiter` option; src/csv/delimiter.ts parses --delimiter). */
const DELIMITERS = [',', ';', '\t', '|'];

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
  /** The column delimiter (`,` `;` tab `|`); default: detected from the header line. */
  delimiter?: string;
  /**
   * inspectInput: look for duplicate rows (default true). The runner finds duplicates
   * itself, in Redis, so its first pass leaves this off and keeps no per-row memory.
   */
  countDuplicates?: boolean;
}

export interface InputSummary {
  /** The file as given (`-`: standard input). */
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
  /** The column delimiter, and whether it was detected, forced by --delimiter or named by a sep= line. */
  delimiter: string;
  delimiterFrom: DelimiterSource;
  /** The header cells that are read, and as which input column. */
  mapping: Array<{ header: string; column: InputColumn }>;
  /** The header cells that are not read (under --allow-unknown-columns; filters may still use them). */
  ignoredColumns: string[];
  /** The header is one of Okta's user exports: only its userId / login columns are read. */
  oktaExport: boolean;
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

/** A csv-parse error as the sentence an operator needs; a header read as one cell adds why (the delimiter). */
function csvError(file: string, err: CsvError, headerNames: string[] | undefined, lastEnd: number, maxLineBytes: number, delimiter: Delimiter): InputFileError {
  const { message, line } = csvProblem(err, headerNames, lastEnd, maxLineBytes);
  const hint = headerNames && oneCellHint(headerNames.map((n) => n.trim()), delimiter);
  return new InputFileError(file, hint ? `${message}; ${hint}` : message, line);
}

function csvProblem(err: CsvError, headerNames: string[] | undefined, lastEnd: number, maxLineBytes: number): { message: string; line?: number } {
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
      return { message: 'a quoted field is not closed (its opening quote has no closing quote before the end of the file)', line: lastEnd + 1 };
    case 'CSV_MAX_RECORD_SIZE':
      return {
        message: `a record is longer than ${maxLineBytes} bytes, the limit for one line (a quoted field that is never closed does this: check the quotes from this line on)`,
        line: lastEnd + 1,
      };
    case 'INVALID_OPENING_QUOTE':
      return {
        message: `a quote appears inside an unquoted field${columnName()}; quote the whole field and double the quotes inside it, like "Bob ""B"" Smith"`,
        line,
      };
    case 'CSV_INVALID_CLOSING_QUOTE':
      return { message: `a quoted field has text after its closing quote${columnName()}; inside a quoted field write a quote as two quotes ("")`, line };
    default:
      return { message: `not valid CSV (${err.code}: ${err.message})`, line };
  }
}

/** The first bytes of the opened file (its header line, when that fits in one record). */
async function peek(handle: FileHandle, bytes: number): Promise<Buffer> {
  const buf = Buffer.alloc(bytes);
  const { bytesRead } = await handle.read(buf, 0, bytes, 0);
  return buf.subarray(0, bytesRead);
}

/** The internal reader: readInput plus callbacks with the header and the rows left out by filters. */
async function* readRows(
  file: string,
  opts: ReadInputOptions,
  onHeader?: (header: Header) => void,
  onSkip?: () => void,
): AsyncGenerator<RowResult> {
  const maxFieldBytes = positiveInt(opts.maxFieldBytes, 'maxFieldBytes', DEFAULT_MAX_FIELD_BYTES);
  const maxLineBytes = positiveInt(opts.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  const maxRows = opts.maxRows === undefined ? undefined : positiveInt(opts.maxRows, 'maxRows', 0, 0);
  if (opts.delimiter !== undefined && !DELIMITERS.includes(opts.delimiter)) {
    throw new ConfigError([`delimiter: expected one of , ; tab |, got ${JSON.stringify(opts.delimiter)}`]);
  }
  const { handle, label } = await openInput(file);
  let delimiter: Delimiter;
  try {
    delimiter = chooseDelimiter(await peek(handle, Math.min(maxLineBytes, DEFAULT_MAX_LINE_BYTES) + 4), opts.delimiter);
  } catch (err) {
    await handle.close().catch(() => {});
    throw inputError(label, err);
  }

  let lastEnd = delimiter.sepLine ? 1 : 0; // line on which the last complete record ended
  let headerNames: string[] | undefined; // as soon as the parser has it (errors can overtake the records)
  const source = handle.createReadStream({ highWaterMark: 64 * 1024, start: 0 });
  const guard = new ByteGuard(label);
  const options: Options<ParsedRecord, string[]> = {
    bom: true,
    delimiter: delimiter.char,
    from_line: delimiter.sepLine ? 2 : 1,
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
        header = buildHeader(label, record, line, delimiter, opts);
        onHeader?.(header);
        continue;
      }
      dataRows++;
      for (let i = 0; i < record.length; i++) {
        const field = record[i]!;
        if (field.length * 3 > maxFieldBytes && Buffer.byteLength(field) > maxFieldBytes) {
          const name = header.names[i];
          throw new InputFileError(
            label,
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
    if (err instanceof CsvError) throw csvError(label, err, headerNames, lastEnd, maxLineBytes, delimiter);
    throw inputError(label, err);
  } finally {
    parser.destroy();
    source.destroy();
  }
  if (!header) {
    throw new InputFileError(label, `the file is empty (expected a header row such as "userId,factorType,deviceName" and one row per user)`);
  }
  if (dataRows === 0) {
    throw new InputFileError(label, `the file has a header row but no data rows (header: ${header.names.join(delimiter.char)})`);
  }
}

/**
 * Stream the rows of an input CSV (`-`: standard input). File-level problems (missing,
 * not a regular file, empty, header only, not UTF-8 text, broken quotes, oversized
 * fields, bad header) throw InputFileError; bad filter columns and options throw
 * ConfigError; a bad row is yielded as { ok: false } and reading goes on.
 */
export function readInput(file: string, opts: ReadInputOptions = {}): AsyncGenerator<RowResult> {
  return readRows(file, opts);
}

/** SHA-256 and size of the file's raw bytes (`-`: of standard input). */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const { handle, label } = await openInput(file, CSV_INPUT);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of handle.createReadStream({ highWaterMark: 256 * 1024, start: 0 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    throw inputError(label, err);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** The valid rows of a file, read again (the duplicate passes). */
async function* validRows(file: string, opts: ReadInputOptions): AsyncGenerator<InputRow> {
  for await (const result of readRows(file, opts)) if (result.ok) yield result.value;
}

/**
 * The first pass over an input file: validates every row, counts valid, invalid and
 * duplicate rows (src/csv/duplicates.ts: the later rows for one user, by userId, login
 * or a row tying the two, and factorType), and takes the SHA-256 of the raw bytes.
 * Throws InputFileError for file-level problems.
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
    delimiter: ',',
    delimiterFrom: 'header',
    mapping: [],
    ignoredColumns: [],
    oktaExport: false,
  };
  const finder = opts.countDuplicates === false ? undefined : new DuplicateFinder();
  const onHeader = (h: Header) => {
    summary.columns = h.names;
    summary.delimiter = h.delimiter.char;
    summary.delimiterFrom = h.delimiter.from;
    summary.mapping = h.names.flatMap((header, i) => (h.canonical[i] ? [{ header, column: h.canonical[i]! }] : []));
    summary.ignoredColumns = ignoredColumns(h);
    summary.oktaExport = h.oktaExport;
  };
  for await (const result of readRows(file, opts, onHeader, () => summary.skipped++)) {
    summary.rows++;
    if (!result.ok) {
      summary.invalidCount++;
      if (summary.invalid.length < SUMMARY_LIST_CAP) summary.invalid.push(result.value);
      continue;
    }
    summary.valid++;
    finder?.see(result.value);
  }
  if (finder?.candidateCount) {
    const found = await finder.find(() => validRows(file, opts), SUMMARY_LIST_CAP);
    summary.valid -= found.count;
    summary.duplicateCount = found.count;
    summary.duplicates = found.list;
  }
  const { bytes, sha256 } = await hashing;
  summary.bytes = bytes;
  summary.sha256 = sha256;
  return summary;
}
