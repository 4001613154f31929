/**
 * Dry run: what `run` would do to each row, read from Okta without changing anything.
 * Every user is resolved (a login is looked up; a userId is checked by reading its
 * factors) and its factors are read, through the same rate-limited client the run uses
 * (GET requests only). The plan follows the runner's own rules (src/rows/lifecycle.ts):
 *   - invalid row, unknown user, duplicate of an earlier row, a user whose status takes
 *     no factor (suspended, deprovisioned) → fail, with the reason;
 *   - a factor of the row's type exists: the runner adopts it in the same order it
 *     would (active first, then pending, then any): `leave active`, `adopt pending`,
 *     `restart expired` (an expired activation is restarted once), or fail when its
 *     status is something else;
 *   - no factor of the type → enroll.
 * Rows are written in the report's row order, as PLAN_COLUMNS.
 */
import { writeCsv, type WriteCsvOptions } from '../csv/report.js';
import type { RowResult } from '../csv/input-row.js';
import { OktaApiError } from '../okta/errors.js';
import type { FactorView, OktaClient } from '../okta/types.js';
import { mapOrdered } from '../audit/map-ordered.js';
import { isRetryable, withRetry, type RetryOptions } from '../audit/retry.js';
import { claimKey } from '../runs/store.js';

export const PLAN_COLUMNS = ['row', 'userId', 'login', 'factorType', 'action', 'reason', 'existingFactorId', 'existingStatus'] as const;
export type PlanColumn = (typeof PLAN_COLUMNS)[number];

export const PLAN_ACTIONS = ['enroll', 'adopt pending', 'leave active', 'restart expired', 'fail'] as const;
export type PlanAction = (typeof PLAN_ACTIONS)[number];

export interface PlanRow {
  row: number;
  userId: string;
  login: string;
  factorType: string;
  action: PlanAction;
  /** For `fail`: `<errorCode>: <what>`, the code the real run would report. Else a short note. */
  reason: string;
  existingFactorId: string;
  existingStatus: string;
}

/** Raised for a row whose user or factors could not be read (after retries): the plan is incomplete. */
export const READ_ERROR = 'READ_ERROR';

export interface PlanOptions {
  /** Rows resolved at once (default 20). */
  concurrency?: number;
  retry?: RetryOptions;
  /** A re-enrollment: whatever is not active is restarted. */
  revisit?: boolean;
  /** The run delivers activation links (email / sms): an adopted pending factor is restarted to send one. */
  delivers?: boolean;
  /** Activation lifetime assumed when a listing gives no expiry (default Okta's 10 minutes). */
  activationMs?: number;
  now?: () => number;
}

/** User statuses in which Okta refuses factor changes (E0000038). */
export const STATUSES_WITHOUT_FACTORS: ReadonlySet<string> = new Set(['SUSPENDED', 'DEPROVISIONED']);

interface Resolved {
  input: RowResult;
  userId?: string;
  status?: string;
  factors?: FactorView[];
  error?: { code: string; summary: string };
}

function errorOf(err: unknown): { code: string; summary: string } {
  if (err instanceof OktaApiError) {
    return { code: isRetryable(err) ? READ_ERROR : err.errorCode || `HTTP_${err.status}`, summary: err.errorSummary || err.message };
  }
  return { code: READ_ERROR, summary: (err as Error)?.message ?? String(err) };
}

/** Pick the factor the runner would adopt (src/rows/lifecycle.ts, after a listing). */
export function adoptable(factors: FactorView[], factorType: string): FactorView | undefined {
  const wanted = factorType.toLowerCase();
  const ofType = factors.filter((f) => f.factorType.toLowerCase() === wanted);
  return ofType.find((f) => f.state === 'activated') ?? ofType.find((f) => f.state === 'waiting') ?? ofType.find((f) => f.state === 'expired') ?? ofType[0];
}

/** The planned rows, in input order. */
export async function* planRows(okta: OktaClient, inputs: AsyncIterable<RowResult> | Iterable<RowResult>, opts: PlanOptions = {}): AsyncGenerator<PlanRow> {
  // userId rows already asked about: a later duplicate needs no request (the order of calls is the input order).
  const askedIds = new Set<string>();
  const resolve = async (input: RowResult): Promise<Resolved> => {
    if (!input.ok) return { input };
    const v = input.value;
    let uid = v.userId;
    try {
      if (uid) {
        const key = claimKey(uid, v.factorType);
        if (askedIds.has(key)) return { input, userId: uid };
        askedIds.add(key);
      }
      // The user's status decides whether Okta takes a factor at all (E0000038): read it for every row.
      const user = await withRetry(() => okta.getUser(uid ?? v.login!), opts.retry);
      uid = user.id;
      const id = uid;
      const factors = await withRetry(() => okta.listFactors(id), opts.retry);
      return { input, userId: uid, factors, ...(user.status ? { status: user.status } : {}) };
    } catch (err) {
      return { input, ...(uid ? { userId: uid } : {}), error: errorOf(err) };
    }
  };
  const claims = new Map<string, number>();
  for await (const r of mapOrdered(inputs, opts.concurrency ?? 20, resolve)) {
    const v = r.input.value;
    const base = {
      row: v.row,
      userId: r.userId ?? v.userId ?? '',
      login: v.login ?? '',
      factorType: v.factorType ?? '',
      existingFactorId: '',
      existingStatus: '',
    };
    if (!r.input.ok) {
      yield { ...base, action: 'fail', reason: `${r.input.value.errorCode}: ${r.input.value.reason}` };
      continue;
    }
    // Like the runner: a row claims (user, factor type) as soon as its user id is known
    // (a userId row before any call), and the lowest row keeps the claim.
    if (r.userId) {
      const key = claimKey(r.userId, v.factorType!);
      const owner = claims.get(key);
      if (owner !== undefined) {
        yield { ...base, action: 'fail', reason: `DUPLICATE_ROW: same user and factorType as row ${owner}` };
        continue;
      }
      claims.set(key, v.row);
    }
    if (r.error) {
      yield { ...base, action: 'fail', reason: `${r.error.code}: ${r.error.summary}` };
      continue;
    }
    if (r.status && STATUSES_WITHOUT_FACTORS.has(r.status)) {
      yield { ...base, action: 'fail', reason: `E0000038: this operation is not allowed in the user's status (${r.status})` };
      continue;
    }
    const existing = adoptable(r.factors ?? [], v.factorType!);
    if (!existing) {
      yield { ...base, action: 'enroll', reason: `no ${v.factorType} factor yet` };
      continue;
    }
    const found = { ...base, existingFactorId: existing.factorId, existingStatus: existing.status };
    switch (existing.state) {
      case 'activated':
        yield { ...found, action: 'leave active', reason: 'already active' };
        break;
      case 'waiting': {
        const created = existing.created ? Date.parse(existing.created) : NaN;
        const listed = existing.expiresAtMs ?? (existing.expiresAt ? Date.parse(existing.expiresAt) : NaN);
        const assumedExpiry = Number.isFinite(listed) ? listed : (Number.isFinite(created) ? created + (opts.activationMs ?? 600_000) : Infinity);
        const restartable = Boolean(existing.links.activate);
        if (restartable && (opts.revisit || assumedExpiry <= (opts.now ?? Date.now)())) {
          yield { ...found, action: 'restart expired', reason: opts.revisit ? 'not active: the re-enrollment restarts its activation' : 'activation expired (Okta listed it pending with no expiry): the run restarts it once' };
        } else if (restartable && opts.delivers && !opts.revisit) {
          yield { ...found, action: 'adopt pending', reason: 'activation pending: the run restarts it once to send its link, then waits for it' };
        } else {
          yield { ...found, action: 'adopt pending', reason: 'activation pending: the run waits for it' };
        }
        break;
      }
      case 'expired':
        yield existing.links.activate
          ? { ...found, action: 'restart expired', reason: opts.revisit ? 'activation expired: the re-enrollment restarts it' : 'activation expired: the run restarts it once' }
          : { ...found, action: 'fail', reason: `UNEXPECTED_STATUS: expired factor without an activate link` };
        break;
      default:
        yield { ...found, action: 'fail', reason: `UNEXPECTED_STATUS: factor status ${existing.status}` };
    }
  }
}

export interface PlanResult {
  rows: number;
  sha256: string;
  byAction: Record<PlanAction, number>;
  /** Rows whose user or factors could not be read (plan incomplete for them). */
  readErrors: number;
}

/** Write the plan CSV (atomic, 0600, cells neutralised like the report). */
export async function writePlan(file: string, rows: AsyncIterable<PlanRow>, opts: WriteCsvOptions = {}): Promise<PlanResult> {
  const byAction = Object.fromEntries(PLAN_ACTIONS.map((a) => [a, 0])) as Record<PlanAction, number>;
  let readErrors = 0;
  async function* counted(): AsyncGenerator<Record<string, string | number>> {
    for await (const r of rows) {
      byAction[r.action]++;
      if (r.reason.startsWith(`${READ_ERROR}:`)) readErrors++;
      yield { ...r };
    }
  }
  const { rows: n, sha256 } = await writeCsv(file, PLAN_COLUMNS, counted(), opts);
  return { rows: n, sha256, byAction, readErrors };
}

export function formatPlanSummary(file: string, r: PlanResult): string {
  const w = Math.max(...PLAN_ACTIONS.map((a) => a.length));
  return [`Dry run: ${r.rows} rows planned, nothing changed in Okta`, ...PLAN_ACTIONS.map((a) => `  ${a.padEnd(w)} ${r.byAction[a]}`), `Plan: ${file}`].join('\n');
}
