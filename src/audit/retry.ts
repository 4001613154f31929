/**
 * Retries for the audit's reads. The audit calls Okta directly (no queue), so it
 * retries what the queue would retry: 429 (after the reset the answer names), 5xx,
 * timeouts and dropped connections. Other answers (404, 403, …) are returned to the
 * caller at once.
 */
import { OktaApiError, OktaNetworkError } from '../okta/errors.js';
import { MAX_BACKOFF_MS, retryDelay } from '../queue/backoff.js';

export interface RetryOptions {
  /** Tries in all (1 + retries). Default 5. */
  attempts?: number;
  /** Base of the exponential backoff for 5xx / network errors. Default 500 ms. */
  baseMs?: number;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof OktaNetworkError) return true;
  return err instanceof OktaApiError && (err.isRateLimit || err.isServerError);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const baseMs = opts.baseMs ?? 500;
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      const wait =
        err instanceof OktaApiError && err.isRateLimit && err.rateLimit
          ? Math.min(MAX_BACKOFF_MS, Math.max(250, err.rateLimit.resetInMs) + Math.round(Math.random() * 250))
          : retryDelay(attempt, baseMs);
      await sleep(wait);
    }
  }
}
