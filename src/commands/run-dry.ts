/**
 * `run --dry-run`: the plan of a run, nothing changed in Okta. Reads the CSV (or the
 * group's members), resolves every user and reads their factors through the shared
 * rate limiter (its `other` lane: a dry run beside a migration shares the org's
 * budget), and writes the planned action per row (src/runs/plan.ts). Nothing is stored
 * in Redis beyond the limiter's own state.
 */
import type { ProcessConfig, RawOptions } from '../config.js';
import type { ReadInputOptions } from '../csv/read-input.js';

export interface DryRunOptions {
  csv?: string;
  group?: string;
  groupName?: string;
  pageSize?: number;
  readOptions: ReadInputOptions;
  config: ProcessConfig;
  flags: RawOptions;
  out: NodeJS.WritableStream;
  warnings?: string[];
}

/** `<report>.plan.csv` unless --plan names a file. */
export function planPathFor(flags: RawOptions): string {
  return typeof flags.plan === 'string' ? flags.plan : `${String(flags.report)}.plan.csv`;
}

/** Okta answers that no row can overcome become a FatalRunError with a plain sentence. */
export async function oktaFatalOf(err: unknown): Promise<unknown> {
  const { OktaApiError, ForeignOriginError, InsecureTransportError } = await import('../okta/errors.js');
  const { FatalRunError } = await import('../errors.js');
  if (err instanceof OktaApiError && err.status === 401) {
    return new FatalRunError(`Okta rejected the credentials (${err.errorCode}: ${err.errorSummary}).`, 'Check OKTA_API_TOKEN / --token-file (or the OAuth client id, key and scopes) and --org-url.');
  }
  if (err instanceof ForeignOriginError || err instanceof InsecureTransportError) return new FatalRunError(err.message);
  return err;
}

export async function dryRun(o: DryRunOptions): Promise<import('../runs/plan.js').PlanResult & { file: string }> {
  const { inspectInput, readInput } = await import('../csv/read-input.js');
  const { createLogger, registerSecret } = await import('../logger.js');
  const { openReadOnlyOkta } = await import('../audit/gate.js');
  const { groupRows, resolveGroupName } = await import('../runs/ingest-group.js');
  const { formatPlanSummary, planRows, writePlan } = await import('../runs/plan.js');
  const { ExitError, EXIT } = await import('../errors.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { config } = o;

  registerSecret(config.token);
  if (o.csv !== undefined) await inspectInput(o.csv, o.readOptions);
  // Redis carries the shared rate limiter.
  await ensureRedis(config, { purpose: 'read' });
  const logger = createLogger(config);
  for (const w of o.warnings ?? []) logger.warn(w);
  const file = planPathFor(o.flags);
  let readOnly: Awaited<ReturnType<typeof openReadOnlyOkta>> | undefined;
  try {
    readOnly = await openReadOnlyOkta(config, logger);
    const client = readOnly.okta;
    let inputs;
    if (o.csv !== undefined) inputs = readInput(o.csv, o.readOptions);
    else {
      const group = o.groupName !== undefined ? await resolveGroupName(client, o.groupName) : { id: o.group! };
      inputs = groupRows(client, group.id, { ...o.readOptions, ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}) });
    }
    const { loadRunSettings } = await import('../config.js');
    const settings = loadRunSettings(o.flags);
    const result = await writePlan(file, planRows(client, inputs, { concurrency: Math.min(config.maxConcurrent, 20), delivers: settings.deliver !== 'none' }), { bom: Boolean(o.flags.excel) });
    o.out.write(`${formatPlanSummary(file, result)}\n`);
    logger.info('dry run finished', { plan: file, rows: result.rows, ...result.byAction });
    if (result.readErrors) {
      throw new ExitError(
        EXIT.FATAL,
        `${result.readErrors} row${result.readErrors > 1 ? 's' : ''} could not be read from Okta (plan rows with reason READ_ERROR); the plan is incomplete for them.`,
      );
    }
    return { ...result, file };
  } catch (err) {
    throw await oktaFatalOf(err);
  } finally {
    await readOnly?.close();
    logger.close();
  }
}
