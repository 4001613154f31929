/**
 * A tiny HTTP server that counts like an Okta rate bucket: windows of windowMs (fixed,
 * starting on a whole second; or opened by the first request after the last one closed,
 * as the simulator does), X-Rate-Limit-Limit /
 * -Remaining / -Reset (epoch seconds) on every answer, 429 once a window's limit is
 * spent, and 429 with X-Rate-Limit-Limit: 0 above a concurrency limit. Node's own Date
 * header (whole seconds) is kept, as Okta's is. It records what it saw so tests can
 * check the budget from the server's side.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WindowServerOptions {
  limit: number;
  windowMs: number;
  /** Each answer is delayed this long (default 5 ms). */
  latencyMs?: number;
  /** Above this many requests in flight, answer a concurrency 429 (default: no limit). */
  concurrencyLimit?: number;
  /** Send the rate-limit headers (default true). */
  headers?: boolean;
  /**
   * 'grid' (default): windows follow each other from a whole second, whether or not
   * requests come. 'first-request': as at Okta and in the simulator, a window opens with
   * the first request after the previous one closed (so its end is not on a whole second;
   * Reset is that end rounded up).
   */
  windows?: 'grid' | 'first-request';
  /** The request with this number (1-based) gets a bucket 429 with this X-Rate-Limit-Reset (epoch s): the absurd-header case. */
  absurd429?: { atRequest: number; resetSec: number };
}

export interface WindowServer {
  readonly url: string;
  /** Arrival times (ms) of every request, accepted or not. */
  readonly arrivals: number[];
  /** Accepted requests per window index. */
  readonly accepted: Map<number, number>;
  /** Requests per window index, accepted or not. */
  readonly perWindow: Map<number, number>;
  readonly rejected: { bucket: number; concurrency: number };
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  /** first-request windows: when each opened (ms), in order. */
  readonly opened: number[];
  readonly startMs: number;
  windowOf(ms: number): number;
  close(): Promise<void>;
}

export async function startWindowServer(opts: WindowServerOptions): Promise<WindowServer> {
  const latency = opts.latencyMs ?? 5;
  // Windows start on a whole second, 1 s from now: unaligned to any grid the limiter might assume.
  const startMs = Math.ceil(Date.now() / 1000) * 1000 - 1000;
  let inFlight = 0;
  const state: Omit<WindowServer, 'url' | 'close'> = {
    arrivals: [],
    accepted: new Map(),
    perWindow: new Map(),
    rejected: { bucket: 0, concurrency: 0 },
    maxInFlight: 0,
    opened: [],
    startMs,
    windowOf: (ms) => Math.floor((ms - startMs) / opts.windowMs),
  };
  if (opts.windows === 'first-request') {
    // Window index = how many windows opened before; one opens with the first request after the last one closed.
    state.windowOf = (ms) => {
      const o = state.opened;
      let i = o.length - 1;
      while (i >= 0 && (o[i] as number) > ms) i--;
      return i;
    };
  }
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const now = Date.now();
    requests++;
    if (opts.windows === 'first-request') {
      const last = state.opened[state.opened.length - 1];
      if (last === undefined || now >= last + opts.windowMs) state.opened.push(now);
    }
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    state.arrivals.push(now);
    const w = state.windowOf(now);
    state.perWindow.set(w, (state.perWindow.get(w) ?? 0) + 1);
    const used = state.accepted.get(w) ?? 0;
    const windowEnd = opts.windows === 'first-request' ? (state.opened[w] as number) + opts.windowMs : startMs + (w + 1) * opts.windowMs;
    let resetSec = Math.ceil(windowEnd / 1000);
    let status = 200;
    let limitHeader = opts.limit;
    let remaining: number;
    if (opts.concurrencyLimit !== undefined && inFlight > opts.concurrencyLimit) {
      status = 429;
      limitHeader = 0;
      remaining = 0;
      state.rejected.concurrency++;
    } else if (used >= opts.limit || requests === opts.absurd429?.atRequest) {
      status = 429;
      remaining = 0;
      state.rejected.bucket++;
      if (requests === opts.absurd429?.atRequest) resetSec = opts.absurd429.resetSec;
    } else {
      state.accepted.set(w, used + 1);
      remaining = opts.limit - used - 1;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.headers !== false) {
      headers['x-rate-limit-limit'] = String(limitHeader);
      headers['x-rate-limit-remaining'] = String(remaining);
      headers['x-rate-limit-reset'] = String(resetSec);
    }
    const answer = (): void => {
      inFlight--;
      res.writeHead(status, headers);
      res.end(status === 429 ? '{"errorCode":"E0000047"}' : '{}');
    };
    req.resume();
    if (latency > 0) setTimeout(answer, latency);
    else answer();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
