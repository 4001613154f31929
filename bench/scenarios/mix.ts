/**
 * Standard mix: Okta's 10-minute activation window scaled down to 3 s; 70% of users
 * scan after 200–2800 ms, 30% never; users given by id; no activation delivery. API
 * calls per user (a delivery would be one more, counted apart), detection delay
 * (report finishedAt − the moment the simulated user scanned, from the simulator's
 * System Log event for that factor), and whether every row got its exact outcome.
 * Once with polling alone, once with the System Log watcher when the runner has one.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { Scope } from '../lib/cleanup.js';
import { runInProcess } from '../lib/runner.js';
import { population, privateRedis, tempDir } from '../lib/setup.js';
import { startSimProcess } from '../lib/sim.js';
import { fmt, percentile } from '../lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from '../lib/types.js';
import { LATENCY_MS } from './budget.js';

const WINDOW_MS = 3000;
const SCAN_MS: [number, number] = [200, 2800];
const NEVER = 0.3;
/** Okta's activation window, which WINDOW_MS stands for. */
const OKTA_WINDOW_MS = 600_000;
/** The watcher's cadence against Okta (the runner's default), scaled like the window; the runner accepts 100 ms at least. */
const LOG_INTERVAL_MS = Math.max(100, Math.round((5000 * WINDOW_MS) / OKTA_WINDOW_MS));
/** The System Log budget (50 calls/min by default) scaled like the window: 200× the time compression, 200× the calls per minute. */
const LOGS_RATE_PER_MIN = Math.round((50 * OKTA_WINDOW_MS) / WINDOW_MS);

export function mixCases(ctx: BenchContext): Case[] {
  const users = ctx.quick ? 300 : 1000;
  const modes: Array<{ id: string; mode: 'poll' | 'log'; label: string; target: string; maxCalls: number }> = [
    { id: 'mix-poll', mode: 'poll', label: 'Standard mix, polling alone', target: '≤ 4 calls/user, outcomes exact', maxCalls: 4 },
    { id: 'mix-log', mode: 'log', label: 'Standard mix, System Log watcher', target: '≤ 1.5 calls/user, outcomes exact', maxCalls: 1.5 },
  ];
  return modes.map((c) => {
    const runFlags = ctx.detect ? ctx.detect[c.mode] : c.mode === 'poll' ? {} : undefined;
    const processFlags: Record<string, string> = {};
    if (c.mode === 'log' && ctx.detect?.intervalKey) processFlags[ctx.detect.intervalKey] = String(LOG_INTERVAL_MS);
    if (c.mode === 'log' && ctx.detect?.logsRateKey) processFlags[ctx.detect.logsRateKey] = String(LOGS_RATE_PER_MIN);
    return {
      id: c.id,
      scenario: 'mix' as const,
      ...(runFlags ? { run: () => runMix(users, runFlags, processFlags) } : { skipped: 'not available (`bulk-enroll run --help` has no --detect / --log-watcher option)' }),
      row: (m: Measurement | undefined): TableRow => {
        if (!m) return { scenario: c.label, result: runFlags ? 'failed (see above)' : 'not available', target: c.target, verdict: '—', note: runFlags ? '' : 'the runner has no System Log watcher yet' };
        const x = m.metrics;
        const exact = x.mismatches === 0;
        return {
          scenario: c.label,
          result:
            `${fmt(x.callsPerUser!, 2)} calls/user; detection p50 ${fmt(x.delayP50!)} ms, p95 ${fmt(x.delayP95!)} ms; ` +
            `outcomes ${exact ? 'exact' : `${fmt(x.mismatches!)} rows wrong`} (${fmt(x.activated!)} activated, ${fmt(x.expired!)} expired)`,
          target: c.target,
          verdict: x.callsPerUser! <= c.maxCalls && exact ? 'met' : 'not met',
          note:
            `${fmt(x.users!)} users, window ${WINDOW_MS} ms, scans at ${SCAN_MS.join('–')} ms, ${NEVER * 100}% never; latency ${LATENCY_MS.join('–')} ms; ` +
            `${m.info.flags}. Calls by kind per user: enroll ${fmt(x.enrollPerUser!, 2)}, poll ${fmt(x.pollPerUser!, 2)}, log ${fmt(x.logPerUser!, 3)}, ` +
            `other ${fmt(x.otherPerUser!, 3)}; deliveries ${fmt(x.deliveries!)} (counted apart); 429s ${fmt(x.rateLimited!)}. ` +
            `Delay = report finishedAt − the simulator's activation event, in the scaled window (×${OKTA_WINDOW_MS / WINDOW_MS} for Okta's 10 minutes); ${fmt(x.logNotes!)} rows say the log detected them. Run took ${fmt(x.totalSec!, 1)} s.`,
        };
      },
    };
  });
}

async function runMix(users: number, runFlags: Record<string, unknown>, processFlags: Record<string, unknown>): Promise<Measurement> {
  const scope = new Scope('standard mix');
  try {
    const dir = tempDir(scope, 'mix');
    const redis = await privateRedis(scope);
    const pop = await population(dir, users, { neverRate: NEVER, scanDelayMs: SCAN_MS, seed: 11 });
    const sim = await startSimProcess(scope, {
      usersCsv: pop.directory,
      activationTtlMs: WINDOW_MS,
      rateLimit: 1_000_000,
      rateWindowMs: 60_000,
      logsRateLimit: 1_000_000,
      concurrencyLimit: 75,
      latencyMs: LATENCY_MS,
      requestLogSize: 0,
    });
    const flags = { deliver: 'none', ...runFlags, ...processFlags };
    const run = await runInProcess(scope, {
      csv: pop.input,
      dir,
      simUrl: sim.url,
      token: sim.token,
      redisUrl: redis.url,
      prefix: 'bench',
      processFlags: { rateLimit: '100000', usersRateLimit: '100000', maxConcurrent: '20', ...processFlags },
      runFlags: { deliver: 'none', ...runFlags },
      timeoutMs: 120_000,
    });
    const [stats, events] = await Promise.all([sim.stats(), sim.events()]);
    const expected = parse(readFileSync(pop.expectations), { columns: true }) as Array<{ row: string; outcome: string }>;
    const byRow = new Map(run.rows.map((r) => [r.row, r]));
    const mismatches = expected.filter((e) => byRow.get(e.row)?.outcome !== e.outcome).length + Math.max(0, run.rows.length - expected.length);

    const scannedAt = new Map<string, number>();
    for (const e of events) {
      const fid = (e.debugContext?.debugData as Record<string, string> | undefined)?.factorId;
      if (e.eventType === 'user.mfa.factor.activate' && fid) scannedAt.set(fid, Date.parse(e.published));
    }
    const delays: number[] = [];
    for (const r of run.rows) {
      if (r.outcome !== 'activated') continue;
      const at = scannedAt.get(r.factorId ?? '');
      if (at !== undefined && r.finishedAt) delays.push(Date.parse(r.finishedAt) - at);
    }
    let enroll = 0;
    let poll = 0;
    let log = 0;
    let delivery = 0;
    let other = 0;
    for (const [route, n] of Object.entries(stats.requests.byRoute)) {
      if (/lifecycle\/activate\/(email|sms)/.test(route)) delivery += n;
      else if (/logs/.test(route)) log += n;
      else if (/^POST \/api\/v1\/users\/[^/]+\/factors$/.test(route)) enroll += n;
      else if (/factors\/[^/]+/.test(route)) poll += n;
      else other += n;
    }
    const calls = stats.requests.total - delivery;
    return {
      metrics: {
        users,
        callsPerUser: calls / users,
        enrollPerUser: enroll / users,
        pollPerUser: poll / users,
        logPerUser: log / users,
        otherPerUser: other / users,
        deliveries: delivery,
        rateLimited: stats.rateLimited,
        delayP50: percentile(delays, 50),
        delayP95: percentile(delays, 95),
        mismatches,
        activated: run.rows.filter((r) => r.outcome === 'activated').length,
        expired: run.rows.filter((r) => r.outcome === 'expired').length,
        logNotes: run.rows.filter((r) => /log/i.test(r.note ?? '')).length,
        totalSec: (run.endedAt - run.startedAt) / 1000,
      },
      info: {
        flags: Object.entries(flags)
          .map(([k, v]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${String(v)}`)
          .join(' '),
        routes: JSON.stringify(stats.requests.byRoute),
      },
    };
  } finally {
    await scope.close();
  }
}
