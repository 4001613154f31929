/**
 * Anchor: the Budget scenario done the way a user would write it without the runner:
 * 20 users at a time over the Okta client (no gate, no pacing), enroll, then poll
 * every 100 ms until the factor is active; on a 429, wait until X-Rate-Limit-Reset
 * plus one second and try again, as the official Node SDK does (it gives up after two
 * such retries; here the loop keeps trying and counts how often the SDK would have
 * given up).
 */
import { createOktaClient, sswsAuth, OktaApiError, type FactorView } from '../../src/okta/index.js';
import { Scope, sleep, interruptedSignal } from '../lib/cleanup.js';
import { fmt } from '../lib/stats.js';
import type { BenchContext, Case, Measurement, TableRow } from '../lib/types.js';
import { budgetMeasures, budgetResult, budgetVariants, LIMIT_PER_SEC, startBudgetOrg, type BudgetVariant } from './budget.js';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

const LOOP_CONCURRENCY = 20;
const POLL_EVERY_MS = 100;
/** The official SDK's default: retries of one request after a 429. */
const SDK_MAX_RETRIES = 2;

export function anchorCases(ctx: BenchContext): Case[] {
  return budgetVariants(ctx).map((v) => ({
    id: v.id.replace('budget', 'anchor'),
    scenario: 'anchor' as const,
    ...(v.skipped ? { skipped: v.skipped } : { run: () => runAnchor(v) }),
    row: (m: Measurement | undefined): TableRow => {
      const label = `${v.label.replace('Budget', 'Anchor')} (SDK-style loop)`;
      if (!m) return { scenario: label, result: v.skipped ? `not run: ${v.skipped}` : 'failed (see above)', target: 'reference', verdict: '—', note: '' };
      const x = m.metrics;
      return {
        scenario: label,
        result: budgetResult(x),
        target: 'reference for Budget',
        verdict: '—',
        note:
          `Same org, same ${fmt(x.users!)} users; ${LOOP_CONCURRENCY} users at a time, enroll then poll every ${POLL_EVERY_MS} ms, ` +
          `on 429 wait X-Rate-Limit-Reset − Date + 1 s (the SDK's rule). ${fmt(x.factorCalls! / x.users!, 2)} factor calls/user; ` +
          `429s by kind: bucket ${fmt(x.r429bucket!)}, concurrency ${fmt(x.r429concurrency!)}; ` +
          `${fmt(x.sdkGaveUp!)} calls needed more than the SDK's ${SDK_MAX_RETRIES} retries (the SDK would have failed those rows).`,
      };
    },
  }));
}

async function runAnchor(v: BudgetVariant): Promise<Measurement> {
  const scope = new Scope(`anchor ${v.windowMs} ms`);
  try {
    const { pop, sim, limit } = await startBudgetOrg(scope, 'anchor', v);
    const userIds = (parse(readFileSync(pop.input), { columns: true }) as Array<{ userId: string }>).map((r) => r.userId);
    const okta = createOktaClient({ orgUrl: sim.url, auth: sswsAuth(sim.token) });
    scope.add('okta client', okta, (c) => c.close());
    let sdkGaveUp = 0;
    let failed = 0;
    let stop = false;
    void interruptedSignal.then(() => (stop = true));
    const deadlineAt = Date.now() + Math.max(180_000, ((2 * v.users) / LIMIT_PER_SEC) * 6 * 1000);

    const withRetry = async <T>(fn: () => Promise<T>): Promise<T> => {
      for (let retries = 0; ; retries++) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof OktaApiError) || err.status !== 429 || stop || Date.now() > deadlineAt) throw err;
          if (retries === SDK_MAX_RETRIES) sdkGaveUp++;
          await sleep((err.rateLimit?.resetInMs ?? 0) + 1000);
        }
      }
    };
    const enrollAndWait = async (userId: string) => {
      let f: FactorView = await withRetry(() => okta.enrollFactor(userId, { factorType: 'push', provider: 'OKTA' }));
      while (f.state === 'waiting' && f.links.poll && !stop && Date.now() < deadlineAt) {
        await sleep(POLL_EVERY_MS);
        const link = f.links.poll;
        f = await withRetry(() => okta.poll(userId, link));
      }
      if (f.state !== 'activated') failed++;
    };

    const startedAt = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: LOOP_CONCURRENCY }, async () => {
        while (next < userIds.length && !stop) {
          const id = userIds[next++]!;
          await enrollAndWait(id).catch(() => void failed++);
        }
      }),
    );
    const endedAt = Date.now();
    if (stop) throw new Error('anchor: interrupted');
    if (endedAt > deadlineAt) throw new Error(`anchor: expected to finish within ${Math.round((deadlineAt - startedAt) / 1000)} s, stopped`);
    const metrics = await budgetMeasures(sim, v, limit, startedAt, endedAt);
    metrics.sdkGaveUp = sdkGaveUp;
    metrics.failedUsers = failed;
    return { metrics, info: {} };
  } finally {
    await scope.close();
  }
}
