/**
 * The compact per-row records a run keeps in Redis: one input record per row, one
 * progress record while the row is in flight, one outcome record once it is final.
 * Short keys on purpose: a million-row run must fit comfortably.
 */
import type { InputRow } from '../csv/input-row.js';

export type Outcome = 'activated' | 'expired' | 'failed';
export const OUTCOMES: readonly Outcome[] = ['activated', 'expired', 'failed'];

/** Input as stored: [userId, login, factorType, provider, deviceType, deviceName, phoneNumber, email]. */
export type StoredInput = [string, string, string, string, string, string, string, string];

export function packInput(r: InputRow): string {
  const a = [r.userId ?? '', r.login ?? '', r.factorType, r.provider, r.deviceType ?? '', r.deviceName ?? '', r.phoneNumber ?? '', r.email ?? ''];
  while (a.length > 4 && a[a.length - 1] === '') a.pop();
  return JSON.stringify(a);
}

export function unpackInput(row: number, s: string): InputRow {
  const a = JSON.parse(s) as string[];
  const v = (i: number) => (a[i] ? a[i] : undefined);
  return {
    row,
    userId: v(0),
    login: v(1),
    factorType: a[2] ?? 'push',
    provider: a[3] ?? 'OKTA',
    deviceType: v(4),
    deviceName: v(5),
    phoneNumber: v(6),
    email: v(7),
  };
}

/** Progress of a row in flight. */
export interface Progress {
  /** Resolved Okta user id (for rows given by login). */
  uid?: string;
  /** 'enrolling': an enroll request may have reached Okta; 'enrolled': we hold the factor. */
  s?: 'enrolling' | 'enrolled';
  /** Enrollment tries so far (1 + retries). */
  at?: number;
  fid?: string;
  /** Okta status as last reported. */
  fs?: string;
  /** Poll link href and method (safe to store; never activation material). */
  pl?: string;
  pm?: string;
  /** Activate link (restart an expired activation). */
  al?: string;
  /** Current activation expires at (epoch ms). */
  exp?: number;
  /** When polling started for the current activation (epoch ms). */
  ps?: number;
  /** Factor created (ISO). */
  cr?: string;
  /** Polls done for the current activation. */
  pn?: number;
  /** Activation restarts done by this run. */
  ra?: number;
  /** A restart was asked for and not yet answered (retried after a 429 / 5xx). */
  rs?: number;
  /** Note for the report. */
  n?: string;
  /** Times the reconciler handed this row back after its job was lost or stalled. */
  rq?: number;
  /** Activation delivery: 'pending' (owed), 'sent', 'failed:<code>', 'none'. */
  dv?: string;
  /** 1 when Okta gave no expiresAt for the current activation (it is then polled on schedule). */
  ne?: number;
}

/** Final outcome of a row (written once). */
export interface OutcomeRecord {
  o: Outcome;
  uid?: string;
  fid?: string;
  fs?: string;
  ec?: string;
  es?: string;
  at?: number;
  cr?: string;
  fin: string;
  n?: string;
  d?: string;
}

export function parseJson<T>(s: string | null | undefined): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}
