/** Small statistics for the bench: medians, percentiles, and budget use per rate-limit window. */
import type { SimRequestRecord } from '../../src/simulator/index.js';

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const rank = Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length)));
  return v[rank - 1]!;
}

/** Okta's bucket of a request path, as the simulator charges it. */
export function bucketOf(path: string): 'factors' | 'users' | 'logs' | 'other' {
  const p = path.split('?')[0]!;
  if (p.startsWith('/api/v1/logs')) return 'logs';
  if (/^\/api\/v1\/users\/[^/]+\/factors/.test(p)) return 'factors';
  if (p.startsWith('/api/v1/users/')) return 'users';
  return 'other';
}

export interface WindowUse {
  /** Windows seen (opened by the first admitted request after the previous one closed). */
  windows: number;
  /** Admitted calls per second from the second window's opening to the last window's opening (idle gaps count). */
  steadyPerSec: number;
  /** steadyPerSec ÷ (limit per second). */
  share: number;
}

/**
 * Rebuilds the bucket's windows from the admitted requests' times, as Okta opens them
 * (the first request after a window closed opens the next, so windows are not aligned
 * to the clock), and measures the calls per second in steady state: first and last
 * window excluded. Undefined with fewer than three windows.
 */
export function steadyUse(admittedTimes: number[], windowMs: number, limit: number): WindowUse | undefined {
  const times = [...admittedTimes].sort((a, b) => a - b);
  const windows: Array<{ start: number; count: number }> = [];
  let end = -Infinity;
  for (const t of times) {
    if (t >= end) {
      windows.push({ start: t, count: 0 });
      end = t + windowMs;
    }
    windows[windows.length - 1]!.count++;
  }
  if (windows.length < 3) return undefined;
  const middle = windows.slice(1, -1);
  const calls = middle.reduce((s, w) => s + w.count, 0);
  const spanMs = windows[windows.length - 1]!.start - windows[1]!.start;
  const steadyPerSec = calls / (spanMs / 1000);
  return { windows: windows.length, steadyPerSec, share: steadyPerSec / (limit / (windowMs / 1000)) };
}

export interface CallCounts {
  total: number;
  admitted: number;
  rateLimited: number;
  byBucket: Record<string, { total: number; admitted: number; rateLimited: number }>;
}

export function countCalls(requests: SimRequestRecord[]): CallCounts {
  const out: CallCounts = { total: 0, admitted: 0, rateLimited: 0, byBucket: {} };
  for (const r of requests) {
    const b = (out.byBucket[bucketOf(r.path)] ??= { total: 0, admitted: 0, rateLimited: 0 });
    out.total++;
    b.total++;
    if (r.status === 429) {
      out.rateLimited++;
      b.rateLimited++;
    } else {
      out.admitted++;
      b.admitted++;
    }
  }
  return out;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a';
}
