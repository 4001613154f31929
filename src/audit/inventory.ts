/**
 * One user's inventory rows: one row per factor as Okta lists it, one `NONE` row for
 * a user without factors, one `NOT_FOUND` row for a user Okta does not know (404),
 * one `ERROR` row for a user whose factors could not be read after retries.
 */
import { ForeignOriginError, InsecureTransportError, OktaApiError } from '../okta/errors.js';
import type { FactorView, OktaClient } from '../okta/types.js';
import { withRetry, type RetryOptions } from './retry.js';
import type { AuditSubject } from './sources.js';

export const INVENTORY_COLUMNS = ['userId', 'login', 'factorId', 'factorType', 'provider', 'status', 'created', 'lastUpdated'] as const;
export type InventoryColumn = (typeof INVENTORY_COLUMNS)[number];
export type InventoryRow = Record<InventoryColumn, string>;

/** Status of the one row of a user without factors. */
export const STATUS_NONE = 'NONE';
/** Status of the one row of a user Okta does not know. */
export const STATUS_NOT_FOUND = 'NOT_FOUND';
/** Status of the one row of a user whose factors could not be read. */
export const STATUS_ERROR = 'ERROR';

/** Active, in both dialects: today's ACTIVE and the seed document's ACTIVATED. */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'ACTIVATED']);

export interface UserInventory {
  userId: string;
  login: string;
  rows: InventoryRow[];
  found: boolean;
  /** Why the user could not be read (status ERROR). */
  error?: string;
}

function row(userId: string, login: string, status: string, f?: FactorView): InventoryRow {
  return {
    userId,
    login,
    factorId: f?.factorId ?? '',
    factorType: f?.factorType ?? '',
    provider: f?.provider ?? '',
    status,
    created: f?.created ?? '',
    lastUpdated: f?.lastUpdated ?? '',
  };
}

/** Errors that end the whole audit: a rejected token, links to another origin, plain http. */
export function isFatalForAudit(err: unknown): boolean {
  if (err instanceof ForeignOriginError || err instanceof InsecureTransportError) return true;
  return err instanceof OktaApiError && err.status === 401;
}

const isNotFound = (err: unknown): boolean => err instanceof OktaApiError && err.status === 404;

export async function inventoryOf(client: OktaClient, subject: AuditSubject, retry?: RetryOptions): Promise<UserInventory> {
  let userId = subject.userId ?? '';
  let login = subject.login ?? '';
  const failed = (status: string, error?: string): UserInventory => ({
    userId,
    login,
    rows: [row(userId, login, status)],
    found: false,
    ...(error ? { error } : {}),
  });
  try {
    if (!subject.known) {
      // Resolves a login to its id and fills in the login of an id; a 404 here is a user Okta does not know.
      const user = await withRetry(() => client.getUser(subject.userId ?? subject.login ?? ''), retry);
      userId = user.id;
      login = user.login || login;
    }
    const factors = await withRetry(() => client.listFactors(userId), retry);
    if (factors.length === 0) return { userId, login, rows: [row(userId, login, STATUS_NONE)], found: true };
    return { userId, login, rows: factors.map((f) => row(userId, login, f.status, f)), found: true };
  } catch (err) {
    if (isFatalForAudit(err)) throw err;
    if (isNotFound(err)) return failed(STATUS_NOT_FOUND);
    return failed(STATUS_ERROR, (err as Error)?.message ?? String(err));
  }
}
