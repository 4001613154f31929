/**
 * Budget: a simulated org limit of 100 calls/s per bucket (2 s windows, and with
 * --long 60 s windows like Okta's), 20 concurrent requests, users who all scan 50 ms
 * after enrollment. How much of the limit the runner uses in steady state, how many
 * 429s it provokes, and how long it takes against calls ÷ rate.
 */
import { Scope } from '../lib/cleanup.js';
import { runInProcess } from '../lib/runner.js';
import { population, privateRedis, tempDir } from '../lib/setup.js';
import { startSimProcess, type BenchSim } from '../lib/sim.js';
import { countCalls, fmt, pct, steadyUse } from '../lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from '../lib/types.js';

export const LIMIT_PER_SEC = 100;
export const ORG_CONCURRENCY = 20;
/** Simulated network + Okta time per request. */
export const LATENCY_MS: [number, number] = [20, 60];

export interface BudgetVariant {
  windowMs: number;
  users: number;
}

export function budgetVariants(ctx: BenchContext): Array<BudgetVariant & { id: string; label: string; skipped?: string }> {
  return [
    { id: 'budget-2s', label: 'Budget, 2 s windows', windowMs: 2000, users: ctx.quick ? 400 : 2000 },
    {
      id: 'budget-60s',
      label: 'Budget, 60 s windows',
      windowMs: 60_000,
      users: 13_000,
      ...(ctx.long ? {} : { skipped: 'run with --long (about 7 min with the anchor: a steady state needs three 60 s windows)' }),
    },
  ];
}

/** The simulated org both the runner and the anchor loop face. */
export async function startBudgetOrg(scope: Scope, name: string, v: BudgetVariant) {
  const dir = tempDir(scope, name);
  const pop = await population(dir, v.users, { scanDelayMs: [50, 50] });
  const limit = Math.round((LIMIT_PER_SEC * v.windowMs) / 1000);
  const sim = await startSimProcess(scope, {
    usersCsv: pop.directory,
    rateLimit: limit,
    rateWindowMs: v.windowMs,
    concurrencyLimit: ORG_CONCURRENCY,
    latencyMs: LATENCY_MS,
    requestLogSize: 10_000_000,
  });
  return { dir, pop, sim, limit };
}

/** The measures shared by the runner and the anchor, from the simulator's request log. */
export async function budgetMeasures(sim: BenchSim, v: BudgetVariant, limit: number, startedAt: number, endedAt: number): Promise<Record<string, number>> {
  const [requests, stats] = await Promise.all([sim.requests(), sim.stats()]);
  const calls = countCalls(requests);
  const factors = calls.byBucket.factors ?? { total: 0, admitted: 0, rateLimited: 0 };
  const admittedTimes = requests.filter((r) => r.status !== 429 && /\/factors/.test(r.path)).map((r) => Date.parse(r.at));
  const use = steadyUse(admittedTimes, v.windowMs, limit);
  const minSec = factors.admitted / LIMIT_PER_SEC;
  const totalSec = (endedAt - startedAt) / 1000;
  return {
    users: v.users,
    requests: calls.total,
    factorCalls: factors.admitted,
    otherCalls: calls.admitted - factors.admitted,
    steadyPerSec: use?.steadyPerSec ?? NaN,
    share: use?.share ?? NaN,
    windows: use?.windows ?? NaN,
    rateLimited: calls.rateLimited,
    rateLimitedShare: calls.total ? calls.rateLimited / calls.total : 0,
    r429bucket: stats.rateLimitedBy.bucket,
    r429concurrency: stats.rateLimitedBy.concurrency,
    r429resource: stats.rateLimitedBy.resource,
    maxConcurrent: stats.maxConcurrent,
    activatedFactors: stats.factors.byStatus.ACTIVE ?? 0,
    totalSec,
    minSec,
    ratio: totalSec / minSec,
  };
}

/** The result cell; with --repeat, medians and each one's spread (min–max over the runs). */
export function budgetResult(m: Record<string, number>): string {
  const runs = m.runs ?? 1;
  const spread = (k: string, show: (v: number) => string): string => (runs > 1 ? ` [${show(m[`min:${k}`]!)}–${show(m[`max:${k}`]!)}]` : '');
  return (
    `${runs > 1 ? `median of ${runs} runs [min–max]: ` : ''}` +
    `${pct(m.share!)}${spread('share', (v) => pct(v))} of the limit (${fmt(m.steadyPerSec!, 1)} of ${LIMIT_PER_SEC} calls/s); ` +
    `429s ${fmt(m.rateLimited!)}${spread('rateLimited', (v) => fmt(v))} (${pct(m.rateLimitedShare!, 2)}); ` +
    `${fmt(m.totalSec!, 1)} s${spread('totalSec', (v) => fmt(v, 1))} = ${fmt(m.ratio!, 2)}× the minimum ${fmt(m.minSec!, 1)} s`
  );
}

export function budgetCases(ctx: BenchContext): Case[] {
  return budgetVariants(ctx).map((v) => ({
    id: v.id,
    scenario: 'budget' as const,
    ...(v.skipped ? { skipped: v.skipped } : { run: () => runBudget(v, ctx) }),
    row: (m: Measurement | undefined, all: ReadonlyMap<string, Measurement>): TableRow => {
      const label = `${v.label} (runner)`;
      const target = '≥ 97% of the limit, ≤ 0.5% 429s, faster than the anchor';
      if (!m) return { scenario: label, result: v.skipped ? `not run: ${v.skipped}` : 'failed (see above)', target, verdict: '—', note: '' };
      const x = m.metrics;
      const anchor = all.get(v.id.replace('budget', 'anchor'));
      const anchorSec = anchor?.metrics.totalSec;
      const met = x.share! >= 0.97 && x.rateLimitedShare! <= 0.005 && (anchorSec === undefined || x.totalSec! < anchorSec);
      const users = x.users!;
      return {
        scenario: label,
        result: budgetResult(x) + (anchorSec !== undefined ? `; anchor ${fmt(anchorSec, 1)} s` : ''),
        target,
        verdict: met ? 'met' : 'not met',
        note:
          `${fmt(users)} users scanning 50 ms after enrollment; limit ${fmt(LIMIT_PER_SEC)} calls/s per bucket, ${ORG_CONCURRENCY} concurrent, ` +
          `latency ${LATENCY_MS.join('–')} ms; runner --rate-limit ${LIMIT_PER_SEC * 60} --max-concurrent ${ORG_CONCURRENCY} --deliver none, detect ${m.info.detect}. ` +
          `Use = admitted factor calls per second from the 2nd to the last window opening ÷ the limit (${fmt(x.windows!)} windows); ` +
          `minimum = ${fmt(x.factorCalls!)} factor calls ÷ ${LIMIT_PER_SEC}/s; ${fmt(x.factorCalls! / users, 2)} factor calls/user, ${fmt(x.otherCalls!)} other calls; ` +
          `429s by kind: bucket ${fmt(x.r429bucket!)}, concurrency ${fmt(x.r429concurrency!)}, resource ${fmt(x.r429resource!)}; peak ${fmt(x.maxConcurrent!)} in flight; ` +
          `${fmt(x.activatedFactors!)}/${fmt(users)} factors ACTIVE.`,
      };
    },
  }));
}

async function runBudget(v: BudgetVariant, ctx: BenchContext): Promise<Measurement> {
  const scope = new Scope(`budget ${v.windowMs} ms`);
  try {
    const redis = await privateRedis(scope);
    const { dir, pop, sim } = await startBudgetOrg(scope, 'budget', v);
    const limit = Math.round((LIMIT_PER_SEC * v.windowMs) / 1000);
    const minSec = (2 * v.users) / LIMIT_PER_SEC;
    const run = await runInProcess(scope, {
      csv: pop.input,
      dir,
      simUrl: sim.url,
      token: sim.token,
      redisUrl: redis.url,
      prefix: 'bench',
      processFlags: { rateLimit: String(LIMIT_PER_SEC * 60), usersRateLimit: String(LIMIT_PER_SEC * 60), maxConcurrent: String(ORG_CONCURRENCY) },
      runFlags: { deliver: 'none' },
      timeoutMs: Math.max(120_000, minSec * 4 * 1000 + 60_000),
    });
    const metrics = await budgetMeasures(sim, v, limit, run.startedAt, run.endedAt);
    metrics.activatedRows = run.rows.filter((r) => r.outcome === 'activated').length;
    return { metrics, info: { detect: String(run.settings.detect ?? 'poll') } };
  } finally {
    await scope.close();
  }
}
