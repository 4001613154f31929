/**
 * The input's header row: which cell is which input column (aliases, Okta's user
 * exports), which are ignored, which columns the --match / --skip filters read, and the
 * one InputFileError that lists every problem of a header we cannot use, with its hints
 * ("did you mean login?", the delimiter, --allow-unknown-columns for an Okta export).
 */
import { ConfigError, InputFileError } from '../errors.js';
import { canonicalColumn, INPUT_COLUMNS, mapHeader, normaliseHeaderName, type InputColumn } from './columns.js';
import { oneCellHint, type Delimiter } from './delimiter.js';
import type { RowFilter } from './filters.js';
import { identityHints, oktaExportHint, typoHints } from './header-hints.js';
import { showValue } from './input-row.js';

export interface Header {
  /** The header's cells as written (trimmed). */
  names: string[];
  /** The input column each cell is read as; undefined: ignored (or only read by a filter). */
  canonical: Array<InputColumn | undefined>;
  /** The header is one of Okta's user exports (src/csv/columns.ts mapHeader). */
  oktaExport: boolean;
  delimiter: Delimiter;
  match: Array<{ index: number; filter: RowFilter }>;
  skip: Array<{ index: number; filter: RowFilter }>;
}

export interface HeaderOptions {
  match?: RowFilter[];
  skip?: RowFilter[];
  allowUnknownColumns?: boolean;
}

/** Cells that are neither input columns nor read by a filter: ignored under --allow-unknown-columns. */
export function ignoredColumns(header: Pick<Header, 'names' | 'canonical' | 'match' | 'skip'>): string[] {
  const filtered = new Set([...header.match, ...header.skip].map((f) => f.index));
  return header.names.filter((n, i) => n !== '' && header.canonical[i] === undefined && !filtered.has(i));
}

/** The column a filter reads: the cell of that name, else the cell read as that input column. */
function resolveFilter(label: string, names: readonly string[], canonical: ReadonlyArray<InputColumn | undefined>, filter: RowFilter) {
  const name = normaliseHeaderName(filter.column);
  let index = names.findIndex((n) => normaliseHeaderName(n) === name);
  const column = canonicalColumn(filter.column);
  if (index === -1 && column) index = canonical.indexOf(column);
  if (index === -1) {
    throw new ConfigError([`filter on column ${showValue(filter.column)}: ${label} has no such column (its columns: ${names.join(', ')})`]);
  }
  return { index, filter };
}

/** Read the header record (found on `line`); throws InputFileError when it cannot be used. */
export function buildHeader(label: string, record: string[], line: number, delimiter: Delimiter, opts: HeaderOptions): Header {
  const names = record.map((n) => n.trim());
  const { canonical, oktaExport } = mapHeader(names);
  const problems: string[] = [];
  const hints: string[] = [];
  const filterColumns = new Set([...(opts.match ?? []), ...(opts.skip ?? [])].map((f) => normaliseHeaderName(f.column)));

  const oneCell = oneCellHint(names, delimiter);
  if (oneCell) hints.push(oneCell);
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
  const unknown = names.flatMap((n, i) => (n !== '' && canonical[i] === undefined && !filterColumns.has(normaliseHeaderName(n)) ? [i] : []));
  if (unknown.length && !opts.allowUnknownColumns) {
    problems.push(
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((i) => showValue(names[i]!)).join(', ')} (known columns: ${INPUT_COLUMNS.join(', ')}; ` +
        'names are case-insensitive and may use spaces or underscores, like user_id)',
    );
    if (oktaExport) hints.push(oktaExportHint(names, canonical));
    else hints.push(...typoHints(names, unknown));
  }
  if (!canonical.includes('userId') && !canonical.includes('login')) {
    problems.push(
      `the header has neither a userId nor a login column (expected at least one of them; found ${names.map(showValue).join(', ')})`,
    );
    hints.push(...identityHints(names));
  }
  if (problems.length) throw new InputFileError(label, [...problems, ...hints].join('; '), line);

  const resolve = (filter: RowFilter) => resolveFilter(label, names, canonical, filter);
  return { names, canonical, oktaExport, delimiter, match: (opts.match ?? []).map(resolve), skip: (opts.skip ?? []).map(resolve) };
}
