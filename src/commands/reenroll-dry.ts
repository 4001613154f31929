/**
 * `reenroll --dry-run`: what tonight's re-enrollment would do, nothing changed in Okta.
 * Reads the selected users and their factors through the shared rate limiter (the
 * `other` lane) and writes the plan per row (src/runs/plan.ts): leave active, restart
 * expired, adopt pending, enroll, or fail, including users already at --max-attempts
 * (they would end MAX_ATTEMPTS without any call).
 */
import type { ProcessConfig, RawOptions } from '../config.js';
import type { RowResult } from '../csv/input-row.js';
import type { ReadInputOptions } from '../csv/read-input.js';
import type { SourceRow } from '../runs/ingest.js';

export interface ReenrollDryRunOptions {
  config: ProcessConfig;
  flags: RawOptions;
  out: NodeJS.WritableStream;
  /** Rows chosen from a previous report, or undefined for --users / --group. */
  rows?: readonly SourceRow[];
  users?: string;
  /** How --users is read (its delimiter). */
  usersReadOptions?: ReadInputOptions;
  group?: string;
  maxAttempts?: number;
  warnings?: string[];
}

export async function reenrollDryRun(o: ReenrollDryRunOptions): Promise<import('../runs/plan.js').PlanResult & { file: string }> {
  const { readInput } = await import('../csv/read-input.js');
  const { createLogger } = await import('../logger.js');
  const { openReadOnlyOkta } = await import('../audit/gate.js');
  const { formatPlanSummary, planRows, writePlan } = await import('../runs/plan.js');
  const { groupRevisitRows } = await import('../reenroll/sources.js');
  const { ledgerOf, maxAttemptsSummary } = await import('../reenroll/attempts.js');
  const { RunStore } = await import('../runs/store.js');
  const { createRedis } = await import('../queue/connection.js');
  const { planPathFor, oktaFatalOf } = await import('./run-dry.js');
  const { config } = o;

  const logger = createLogger(config);
  for (const w of o.warnings ?? []) logger.warn(w);
  const file = planPathFor(o.flags);
  const redis = createRedis(config.redis);
  let readOnly: Awaited<ReturnType<typeof openReadOnlyOkta>> | undefined;
  try {
    readOnly = await openReadOnlyOkta(config, logger);
    const client = readOnly.okta;
    const asResults = (rows: readonly SourceRow[]): RowResult[] => rows.map((r) => ({ ok: true, value: { ...r.input, row: Number(r.fileRow) || r.input.row } }));
    const inputs: AsyncIterable<RowResult> | Iterable<RowResult> = o.rows
      ? asResults(o.rows)
      : o.users !== undefined
        ? readInput(o.users, { ...o.usersReadOptions, allowUnknownColumns: true })
        : asResults(await groupRevisitRows(client, o.group!));
    const ledger = ledgerOf(new RunStore(redis, config.prefix));
    const cap = o.maxAttempts;
    // Users at the cap: the run would fail them without asking Okta anything.
    const capped = async function* () {
      for await (const p of planRows(client, inputs, { concurrency: Math.min(config.maxConcurrent, 20), revisit: true })) {
        if (cap && p.userId && (p.action === 'enroll' || p.action === 'restart expired')) {
          const entry = await ledger.get(p.userId, p.factorType);
          if (entry.count >= cap) {
            yield { ...p, action: 'fail' as const, reason: `MAX_ATTEMPTS: ${maxAttemptsSummary(entry.count, cap)}` };
            continue;
          }
        }
        yield p;
      }
    };
    const result = await writePlan(file, capped(), { bom: Boolean(o.flags.excel) });
    o.out.write(`${formatPlanSummary(file, result)}\n`);
    logger.info('reenroll dry run finished', { plan: file, rows: result.rows, ...result.byAction });
    return { ...result, file };
  } catch (err) {
    throw await oktaFatalOf(err);
  } finally {
    await readOnly?.close();
    redis.disconnect();
    logger.close();
  }
}
