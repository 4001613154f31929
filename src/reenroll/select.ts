/**
 * Which rows of a previous report a re-enrollment revisits, and the input row each
 * becomes. By default the `expired` rows (the user never scanned in time);
 * `includeFailed` adds `failed` rows whose error may pass on a second try (network,
 * 5xx, a lost job), never the ones that would fail the same way again (unknown user,
 * invalid or duplicate row, the attempt cap); `includePending` adds rows a stopped
 * run left without an outcome.
 */
import { hashFile } from '../csv/read-input.js';
import { readReport, type ReportRow } from '../csv/report.js';
import { DEFAULT_FACTOR_TYPE, DEFAULT_PROVIDER, type InputRow } from '../csv/input-row.js';
import type { SourceRow } from '../runs/ingest.js';

export interface SelectOptions {
  includeFailed?: boolean;
  includePending?: boolean;
}

/**
 * Failed rows worth another try: the cause was on the way (network, 5xx, a lost job, rate
 * limits, Okta's read-only mode), or may have passed since (E0000112: the user was still
 * being activated; E0000006: a role may have been granted; ACTIVATION_ERROR: Okta's own
 * error on the activation), not in the row or the user.
 */
const RETRYABLE_CODES = new Set([
  'NETWORK_ERROR',
  'INTERNAL_ERROR',
  'JOB_FAILED',
  'WORKER_LOST',
  'REQUEST_TIMEOUT',
  'E0000009',
  'E0000010',
  'E0000047',
  'E0000112',
  'E0000006',
  'ACTIVATION_ERROR',
  'IN_FLIGHT_ELSEWHERE',
]);

/**
 * Whether a failed row may pass on a second try. 5xx answers end a row with Okta's own
 * code and "(after N tries)" (jobs/outcome.ts), or HTTP_5xx when Okta sent no error body.
 */
export function isRetryableFailure(errorCode: string, errorSummary = ''): boolean {
  if (NEVER_RETRY.has(errorCode)) return false;
  if (RETRYABLE_CODES.has(errorCode)) return true;
  if (/^HTTP_(5\d\d|429)$/.test(errorCode)) return true;
  return /\(after \d+ tries\)\s*$/.test(errorSummary) && !NEVER_RETRY.has(errorCode);
}

/** Failed rows that would fail the same way: the user is unknown or in a status that takes no factor, the row is wrong, the cap, a duplicate an operator must resolve. */
const NEVER_RETRY = new Set(['E0000007', 'E0000038', 'INVALID_INPUT', 'DUPLICATE_ROW', 'DUPLICATE_FACTOR', 'MAX_ATTEMPTS', 'FOREIGN_LINK']);

export function wantsRevisit(r: Pick<ReportRow, 'outcome' | 'errorCode' | 'errorSummary'>, opts: SelectOptions): boolean {
  switch (r.outcome) {
    case 'expired':
      return true;
    case 'failed':
      return Boolean(opts.includeFailed) && isRetryableFailure(r.errorCode, r.errorSummary);
    case 'pending':
      return Boolean(opts.includePending);
    default:
      return false;
  }
}

/** A report row as the input of a revisit; undefined when it names no user. */
export function revisitInput(r: ReportRow): InputRow | undefined {
  const userId = r.userId.trim();
  const login = r.login.trim();
  if (!userId && !login) return undefined;
  return {
    row: Number(r.row) || 0,
    ...(userId ? { userId } : {}),
    ...(login ? { login } : {}),
    factorType: (r.factorType.trim() || DEFAULT_FACTOR_TYPE).toLowerCase(),
    provider: r.provider.trim() || DEFAULT_PROVIDER,
    ...(r.deviceName ? { deviceName: r.deviceName } : {}),
  };
}

export interface Selection {
  rows: SourceRow[];
  /** Report rows read. */
  read: number;
  /** Rows left out, by outcome (activated, failed for a cause a retry would not change, …). */
  skipped: Record<string, number>;
}

/** Pick the rows to revisit from report rows (a file being read, or rows stored in Redis). */
export async function selectRows(rows: AsyncIterable<ReportRow> | Iterable<ReportRow>, opts: SelectOptions = {}): Promise<Selection> {
  const out: SourceRow[] = [];
  const skipped: Record<string, number> = {};
  let read = 0;
  for await (const r of rows) {
    read++;
    const input = wantsRevisit(r, opts) ? revisitInput(r) : undefined;
    if (!input) {
      const why = r.outcome === 'failed' && r.errorCode ? `failed ${r.errorCode}` : r.outcome || 'no outcome';
      skipped[why] = (skipped[why] ?? 0) + 1;
      continue;
    }
    out.push({ fileRow: r.row || String(read), input });
  }
  return { rows: out, read, skipped };
}

/** A previous report: its rows to revisit, and its size and SHA-256 (for the manifest). */
export async function selectFromReport(file: string, opts: SelectOptions = {}): Promise<Selection & { sha256: string; bytes: number; all: ReportRow[] }> {
  const all: ReportRow[] = [];
  const keep = async function* () {
    for await (const r of readReport(file)) {
      all.push(r);
      yield r;
    }
  };
  const selection = await selectRows(keep(), opts);
  const { sha256, bytes } = await hashFile(file);
  return { ...selection, sha256, bytes, all };
}
