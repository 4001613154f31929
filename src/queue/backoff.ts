/**
 * Retry backoff for 5xx, timeouts and connection resets: exponential with full
 * jitter (AWS's "full jitter"), bounded, so that many workers retrying at once
 * spread out instead of hammering Okta in waves.
 */
export const MAX_BACKOFF_MS = 60_000;

export function retryDelay(attemptsMade: number, baseMs: number, random: () => number = Math.random): number {
  const cap = Math.min(MAX_BACKOFF_MS, baseMs * Math.pow(2, Math.max(0, attemptsMade - 1)));
  return Math.round(baseMs / 2 + random() * (cap - baseMs / 2));
}

/** A little jitter (0..spread ms) so that N workers resuming at one instant don't stampede. */
export function jitter(spreadMs: number, random: () => number = Math.random): number {
  return Math.round(random() * spreadMs);
}
