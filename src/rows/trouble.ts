/**
 * What an error from the Okta client means for a row, decided from its class, HTTP
 * status and Okta's errorCode (never from message text). The row lifecycle turns each
 * kind into the row's next step.
 */
import { ForeignOriginError, InsecureTransportError, OktaApiError, OktaNetworkError, OktaProtocolError, RequestAbortedError } from '../okta/errors.js';

export type Trouble =
  /** A bucket ran dry or the org's concurrency cap: every worker waits; no attempt charged. */
  | { kind: 'bucket-wait'; waitMs: number; code: string; summary: string }
  /** A per-resource limit (a factor's activations, a phone's SMS): only this row waits. */
  | { kind: 'resource-wait'; waitMs: number; code: string; summary: string }
  /** Okta is in read-only mode (E0000010): the bucket pauses; rows wait. */
  | { kind: 'read-only'; code: string; summary: string }
  /** 5xx, network trouble: retried with backoff. `maybeProcessed`: an enroll may have happened. */
  | { kind: 'transient'; code: string; summary: string; maybeProcessed: boolean }
  /** The credentials are rejected (401, token endpoint): nothing can succeed in this process. */
  | { kind: 'credentials'; code: string; summary: string }
  /** The service app lacks a scope: structural, for every user. */
  | { kind: 'scope'; code: string; summary: string }
  /** E0000006 on this user's request: a protected admin, a user outside the admin's groups, or no role at all. */
  | { kind: 'no-permission'; code: string; summary: string }
  /** E0000038: the user's status does not allow the operation. */
  | { kind: 'user-status'; code: string; summary: string }
  /** E0000112: the user is still being activated; try again in a few minutes. */
  | { kind: 'provisioning'; code: string; summary: string }
  /** E0000001 (validation): on an enroll, a factor of the type may exist, or a policy refuses it. */
  | { kind: 'validation'; code: string; summary: string }
  /** The request was dropped through its AbortSignal (the job lost its lock). */
  | { kind: 'aborted'; maybeProcessed: boolean }
  /** Anything else that fails the row: other 4xx, unreadable answers, foreign links. */
  | { kind: 'row-error'; code: string; summary: string };

/**
 * Okta's rate-limit windows are about a minute: a bucket reset further ahead is not believed
 * (the shared limiter keeps the bucket paused as long as it decides; the row follows it).
 * A per-resource limit (5 activations per 5 minutes) may legitimately ask for minutes.
 */
export const MAX_BUCKET_WAIT_MS = 65_000;
export const MAX_RESOURCE_WAIT_MS = 5 * 60_000;

function summaryOf(err: OktaApiError): string {
  return `${err.errorSummary}${err.causes.length ? ` (${err.causes.join('; ')})` : ''}`;
}

export function classifyTrouble(err: unknown): Trouble {
  if (err instanceof RequestAbortedError) return { kind: 'aborted', maybeProcessed: err.maybeProcessed };
  if (err instanceof OktaApiError) {
    const code = err.errorCode;
    const summary = summaryOf(err);
    if (err.status === 429) {
      const reset = err.rateLimit?.resetInMs;
      const asked = Math.max(100, Number.isFinite(reset) ? (reset as number) : 1000);
      return err.rateLimitKind === 'resource'
        ? { kind: 'resource-wait', waitMs: Math.min(MAX_RESOURCE_WAIT_MS, asked), code, summary }
        : { kind: 'bucket-wait', waitMs: Math.min(MAX_BUCKET_WAIT_MS, asked), code, summary };
    }
    if (err.isReadOnly) return { kind: 'read-only', code, summary };
    if (err.status === 401 || err.path.startsWith('/oauth2/')) return { kind: 'credentials', code, summary };
    if (code === 'INSUFFICIENT_SCOPE') return { kind: 'scope', code, summary };
    if (code === 'E0000006') return { kind: 'no-permission', code, summary };
    if (code === 'E0000038') return { kind: 'user-status', code, summary };
    if (code === 'E0000112') return { kind: 'provisioning', code, summary };
    if (code === 'E0000001') return { kind: 'validation', code, summary };
    if (err.status >= 500) return { kind: 'transient', code, summary, maybeProcessed: true };
    return { kind: 'row-error', code, summary };
  }
  if (err instanceof OktaNetworkError) return { kind: 'transient', code: 'NETWORK_ERROR', summary: err.message, maybeProcessed: err.maybeProcessed };
  if (err instanceof OktaProtocolError) return { kind: 'row-error', code: err.errorCode, summary: err.message };
  if (err instanceof ForeignOriginError || err instanceof InsecureTransportError) return { kind: 'row-error', code: 'FOREIGN_LINK', summary: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'transient', code: 'INTERNAL_ERROR', summary: message, maybeProcessed: true };
}
