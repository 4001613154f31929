/**
 * Live progress. On a terminal: a cli-progress bar with rows done / total, counts by
 * outcome, Okta calls per second against the budget, 429s and an ETA. Elsewhere (cron,
 * CI, a log file): one concise line at a steady interval on stderr, and nothing else,
 * so log parsing is not disturbed.
 *
 * Calls and 429s come from the shared rate limiter. A process that runs workers
 * publishes its limiter's counters to Redis every few seconds (publishCallStats), so
 * `status --watch` on another machine shows the whole cluster's calls/s (readCallStats).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import type { Redis } from 'ioredis';

export interface ProgressState {
  done: number;
  /** Unknown while a streamed input (a group) is still being read. */
  total?: number;
  activated: number;
  expired: number;
  failed: number;
  /** Okta calls per second, recently (all workers when read from Redis). */
  callsPerSec?: number;
  /** The configured factors budget, calls per second. */
  budgetPerSec?: number;
  /** 429 answers so far. */
  rateLimited?: number;
}

export interface Progress {
  update(s: ProgressState): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Force the style (tests); default: whether `stream` is a TTY. */
  tty?: boolean;
  label: string;
  /** Non-TTY: at most one line per interval (default 5000 ms). */
  intervalMs?: number;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Time source (tests). */
  now?: () => number;
  /** Names of the three counts (default activated / expired / failed), e.g. for an audit. */
  names?: { activated: string; expired: string; failed: string };
}

/** "1h 02m", "4m 05s", "12s"; "?" when unknown. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Rows per second over a sliding window of samples (default 60 s), and the ETA it
 * gives for the rows left. Unknown (undefined) until two samples span some progress,
 * or while the total is unknown.
 */
export class RateMeter {
  private readonly samples: Array<{ t: number; v: number }> = [];
  constructor(private readonly windowMs = 60_000) {}

  sample(value: number, now: number): void {
    this.samples.push({ t: now, v: value });
    while (this.samples.length > 2 && now - this.samples[1]!.t >= this.windowMs) this.samples.shift();
  }

  /** Units per second; undefined with fewer than two samples. */
  perSecond(): number | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t <= first.t) return undefined;
    return Math.max(0, (last.v - first.v) / ((last.t - first.t) / 1000));
  }

  etaMs(remaining: number | undefined): number | undefined {
    if (remaining === undefined) return undefined;
    if (remaining <= 0) return 0;
    const rate = this.perSecond();
    if (!rate) return undefined;
    return (remaining / rate) * 1000;
  }
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const now = opts.now ?? Date.now;
  const n = opts.names ?? { activated: 'activated', expired: 'expired', failed: 'failed' };
  const meter = new RateMeter();
  const eta = (s: ProgressState) => {
    meter.sample(s.done, now());
    return formatDuration(meter.etaMs(s.total === undefined ? undefined : s.total - s.done));
  };
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {value}/{totalText} | ${n.activated} {activated} ${n.expired} {expired} ${n.failed} {failed}{extra} | ETA {etaText}`,
        hideCursor: true,
        stream: stream as NodeJS.WriteStream,
        fps: 5,
        // A forced TTY on a stream that is not one (tests): render anyway.
        noTTYOutput: true,
        notTTYSchedule: 200,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s) {
        const payload = {
          activated: s.activated,
          expired: s.expired,
          failed: s.failed,
          extra: extra(s),
          etaText: eta(s),
          totalText: s.total === undefined ? '?' : String(s.total),
        };
        // cli-progress needs a number: while the total is unknown the bar shows what is done so far.
        const total = s.total ?? Math.max(1, s.done);
        if (!started) {
          bar.start(total, s.done, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(s.done, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const interval = opts.intervalMs ?? 5000;
  const started = now();
  let last = -Infinity;
  let lastLine = '';
  let pending: string | undefined;
  const write = (line: string) => {
    lastLine = line;
    pending = undefined;
    stream.write(`[${formatDuration(now() - started)}] ${line}\n`);
  };
  return {
    update(s) {
      const t = now();
      const line = `${opts.label}: ${s.done}/${s.total ?? '?'} done (${n.activated} ${s.activated}, ${n.expired} ${s.expired}, ${n.failed} ${s.failed})${extra(s)} | ETA ${eta(s)}`;
      const changed = stripEta(line) !== stripEta(lastLine);
      if (t - last >= interval && changed) {
        last = t;
        write(line);
      } else if (changed) {
        pending = line;
      }
    },
    stop() {
      // The last state, if it changed since the last line (so the log ends on the final count).
      if (pending) write(pending);
    },
  };
}

function stripEta(line: string): string {
  return line.replace(/ \| ETA .*$/, '');
}

function extra(s: ProgressState): string {
  const parts: string[] = [];
  if (s.callsPerSec !== undefined) {
    parts.push(s.budgetPerSec !== undefined ? `${s.callsPerSec.toFixed(1)}/${s.budgetPerSec.toFixed(1)} calls/s` : `${s.callsPerSec.toFixed(1)} calls/s`);
  }
  if (s.rateLimited !== undefined) parts.push(`429s ${s.rateLimited}`);
  return parts.length ? ` | ${parts.join(', ')}` : '';
}

// ---- calls and 429s, per process and across the cluster -------------------------------

/** What a process's shared limiter has counted so far (src/limiter: `stats()`). */
export interface CallCounters {
  /** Requests sent (permits granted), cumulative. */
  calls: number;
  /** 429 answers of every kind, cumulative. */
  rateLimited: number;
}

/** The subset of SharedLimiter.stats() progress needs (kept structural: the limiter may change). */
export interface LimiterStatsLike {
  granted: number;
  rateLimited: { bucket: number; concurrency: number; resource: number };
}

export function countersOf(stats: LimiterStatsLike | undefined): CallCounters | undefined {
  if (!stats) return undefined;
  const r = stats.rateLimited;
  return { calls: stats.granted, rateLimited: r.bucket + r.concurrency + r.resource };
}

export function callStatsKey(prefix: string): string {
  return `${prefix}:be:calls`;
}

const CALL_STATS_TTL_MS = 60 * 60_000;

/**
 * Publish this process's counters under `${prefix}:be:calls` every `intervalMs` (and
 * once on stop), for `status --watch` and the dashboard. Returns stop().
 */
export function publishCallStats(
  redis: Redis,
  prefix: string,
  read: () => CallCounters | undefined,
  opts: { intervalMs?: number; budgetPerMinute?: number } = {},
): { stop(): Promise<void> } {
  const field = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const key = callStatsKey(prefix);
  const publish = async () => {
    const c = read();
    if (!c) return;
    const rec = JSON.stringify({ c: c.calls, r: c.rateLimited, t: Date.now(), ...(opts.budgetPerMinute ? { b: opts.budgetPerMinute } : {}) });
    await redis.multi().hset(key, field, rec).pexpire(key, CALL_STATS_TTL_MS).exec();
  };
  const timer = setInterval(() => void publish().catch(() => undefined), opts.intervalMs ?? 2000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await publish().catch(() => undefined);
    },
  };
}

/** The cluster's counters: sums over every process that published (cumulative). */
export async function readCallStats(redis: Redis, prefix: string): Promise<CallCounters & { budgetPerMinute?: number; processes: number }> {
  const h = await redis.hgetall(callStatsKey(prefix));
  let calls = 0;
  let rateLimited = 0;
  let budget: number | undefined;
  let processes = 0;
  for (const v of Object.values(h)) {
    try {
      const rec = JSON.parse(v) as { c?: number; r?: number; b?: number };
      calls += rec.c ?? 0;
      rateLimited += rec.r ?? 0;
      if (rec.b) budget = Math.max(budget ?? 0, rec.b);
      processes++;
    } catch {
      // a field from another version: ignored
    }
  }
  return { calls, rateLimited, processes, ...(budget !== undefined ? { budgetPerMinute: budget } : {}) };
}

/**
 * Turns cumulative counters into the progress fields: calls/s over a sliding window,
 * the budget per second, the 429 count.
 */
export class CallRate {
  private readonly meter: RateMeter;
  constructor(windowMs = 15_000) {
    this.meter = new RateMeter(windowMs);
  }

  fields(c: CallCounters | undefined, now: number, budgetPerMinute?: number): Pick<ProgressState, 'callsPerSec' | 'budgetPerSec' | 'rateLimited'> {
    if (!c) return {};
    this.meter.sample(c.calls, now);
    const rate = this.meter.perSecond();
    return {
      ...(rate !== undefined ? { callsPerSec: rate } : {}),
      ...(budgetPerMinute ? { budgetPerSec: budgetPerMinute / 60 } : {}),
      rateLimited: c.rateLimited,
    };
  }
}
