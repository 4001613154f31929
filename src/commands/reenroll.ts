/**
 * `bulk-enroll reenroll --from <report.csv> --report <out.csv>` (or `--users <csv>` /
 * `--group <id>` instead of --from): a run whose rows are revisits. For each user the
 * enroll job looks at their factors first: an expired push activation is restarted
 * through its activate link, a missing factor is enrolled, an active one is left alone;
 * then it polls as usual. Same store, queues, workers, report format and manifest as
 * `run`; the report keeps the previous report's row numbers, so tonight's output is
 * tomorrow night's input. `--max-attempts` caps the activations a user gets across all
 * runs and nights (src/reenroll/attempts.ts).
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addInputOptions, addProcessOptions, addReportOptions, addRunSettingOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program
    .command('reenroll')
    .description('revisit the users of a previous report (expired activations by default), a user list or a group: restart expired activations, enroll missing factors, leave active ones alone; write a report like `run`')
    .option('--from <report>', 'a previous outcome report: revisit its `expired` rows (see --include-failed, --include-pending); - reads standard input')
    .option('--users <csv>', 'revisit the users of this list (a userId or login column; factorType defaults to push; - reads standard input) instead of --from')
    .option('--group <groupId>', 'revisit every member of this Okta group (push) instead of --from')
    .requiredOption('--report <file>', 'where to write the outcome CSV (same format as `run`; usable as the next --from)')
    .option('--include-failed', "with --from: also revisit `failed` rows whose cause may pass (network, 5xx, lost jobs, read-only mode, E0000112, E0000006, ACTIVATION_ERROR); never E0000007, E0000038, INVALID_INPUT, DUPLICATE_ROW, DUPLICATE_FACTOR, MAX_ATTEMPTS")
    .option('--include-pending', 'with --from: also revisit rows a stopped run left `pending`')
    .option('--max-attempts <n>', 'activations (enrollments + restarts) a user may get per factor type across all runs and nights; at the cap the row ends failed MAX_ATTEMPTS without a request (default 5)')
    .option('--strict', 'exit 3 when any row did not end activated (for cron alerting)')
    .option('--sign-key <pem>', 'sign the manifest (<report>.manifest.json) with this ed25519 private key (PEM file)')
    .option('--dry-run', 'change nothing in Okta: read each user and their factors and write the planned action per row')
    .option('--plan <file>', 'with --dry-run: where to write the plan CSV (default <report>.plan.csv)');
  addProcessOptions(cmd);
  addRunSettingOptions(cmd);
  addInputOptions(cmd, { unknownColumnsIgnored: true });
  addReportOptions(cmd);
  cmd.action(async (flags: RawOptions) => {
    await reenrollCommand(flags);
  });
}

export interface ReenrollResult {
  runId: string;
  /** Rows of the source considered, and how many were selected for a revisit. */
  read: number;
  selected: number;
  skipped: Record<string, number>;
  summary: import('../runs/execute.js').RunSummary;
}

type ReenrollIo = { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream; stop?: Promise<unknown> };

/** `--dry-run`: the plan that was written, nothing changed in Okta. */
export interface ReenrollPlan {
  plan: import('../runs/plan.js').PlanResult & { file: string };
}

export function reenrollCommand(flags: RawOptions & { dryRun: true }, io?: ReenrollIo): Promise<ReenrollPlan>;
export function reenrollCommand(flags: RawOptions, io?: ReenrollIo): Promise<ReenrollResult>;
export async function reenrollCommand(flags: RawOptions, io: ReenrollIo = {}): Promise<ReenrollResult | ReenrollPlan> {
  const startedAt = new Date();
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { createLogger } = await import('../logger.js');
  const { ConfigError, collectProblems } = await import('../errors.js');
  const { inspectInput } = await import('../csv/read-input.js');
  const { startRuntime } = await import('../queue/runtime.js');
  const { tasks } = await import('../../jobs/index.js');
  const { ingestCsv, ingestRows } = await import('../runs/ingest.js');
  const { executeRun } = await import('../runs/execute.js');
  const { onShutdownSignal } = await import('../shutdown.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { loadManifestSigningKey } = await import('../runs/manifest.js');
  const { parseMaxAttempts } = await import('../reenroll/settings.js');
  const { parseDelimiterFlag } = await import('../csv/delimiter.js');
  const { selectFromReport } = await import('../reenroll/select.js');
  const { groupIdProblem, groupRevisitRows } = await import('../reenroll/sources.js');
  const out = io.out ?? process.stdout;

  // ---- flags: every problem at once ----
  const problems: string[] = [];
  const warnings: string[] = [];
  const collect = <T>(f: () => T): T | undefined => collectProblems(problems, f);
  const from = typeof flags.from === 'string' ? flags.from : undefined;
  const users = typeof flags.users === 'string' ? flags.users : undefined;
  const group = typeof flags.group === 'string' ? flags.group.trim() : undefined;
  const given = [from !== undefined && `--from ${from}`, users !== undefined && `--users ${users}`, group !== undefined && `--group ${group}`].filter(Boolean);
  if (given.length !== 1) problems.push(`--from, --users, --group: expected exactly one source, got ${given.length ? given.join(' and ') : 'none'}`);
  if (group !== undefined) {
    const bad = groupIdProblem(group);
    if (bad) problems.push(bad);
  }
  if (from === undefined && (flags.includeFailed || flags.includePending)) {
    problems.push(`${flags.includeFailed ? '--include-failed' : '--include-pending'}: only used with --from (a previous report has outcomes to choose by)`);
  }
  const cap = parseMaxAttempts(flags.maxAttempts);
  if ('problem' in cap) problems.push(cap.problem);
  const config = collect(() => loadProcessConfig(flags, { env: io.env, warn: (m) => warnings.push(m) }));
  const runSettings = collect(() => loadRunSettings(flags, io.env));
  const delimiter = typeof flags.delimiter === 'string' ? collect(() => parseDelimiterFlag(flags.delimiter as string)) : undefined;
  let signKey;
  if (typeof flags.signKey === 'string') signKey = await loadManifestSigningKey(flags.signKey).catch((e: unknown) => {
    if (e instanceof ConfigError) problems.push(...e.problems);
    else throw e;
    return undefined;
  });
  if (!flags.dryRun && typeof flags.report === 'string') {
    const { checkReportTarget } = await import('../csv/report-target.js');
    const bad = checkReportTarget(flags.report);
    if (bad) problems.push(`--report: ${bad}`);
  }
  if (problems.length || !config || !runSettings || 'problem' in cap) throw new ConfigError(problems);
  const settings = { ...runSettings, revisit: true, maxActivations: cap.value };

  // ---- the source, read before anything touches Redis when it is a file ----
  const usersReadOptions = { allowUnknownColumns: true, ...(delimiter ? { delimiter } : {}) };
  const fromReport = from !== undefined ? await selectFromReport(from, { includeFailed: Boolean(flags.includeFailed), includePending: Boolean(flags.includePending) }) : undefined;
  if (users !== undefined) await inspectInput(users, usersReadOptions);

  if (flags.dryRun) {
    await ensureRedis(config, { purpose: 'read' });
    const { reenrollDryRun } = await import('./reenroll-dry.js');
    const plan = await reenrollDryRun({
      config,
      flags,
      out,
      warnings,
      ...(fromReport ? { rows: fromReport.rows } : {}),
      ...(users !== undefined ? { users, usersReadOptions } : {}),
      ...(group !== undefined ? { group } : {}),
      ...(cap.value !== undefined ? { maxAttempts: cap.value } : {}),
    });
    return { plan };
  }

  const logger = createLogger(config);
  for (const w of warnings) logger.warn(w);
  await ensureRedis(config, { warn: (m) => logger.warn(m) });
  const shutdown = onShutdownSignal({ closeTimeoutMs: config.closeTimeoutMs, logger });
  const runtime = await startRuntime({ config, logger, tasks, closeTimeoutMs: shutdown.jobGraceMs });
  try {
    let runId: string;
    let read: number;
    let selected: number;
    let skipped: Record<string, number> = {};
    if (fromReport) {
      ({ runId } = await ingestRows(runtime.store, fromReport.rows, settings, {
        command: 'reenroll',
        source: { file: from, fileName: from!.split(/[\\/]/).pop()!, sha256: fromReport.sha256, bytes: fromReport.bytes },
      }));
      read = fromReport.read;
      selected = fromReport.rows.length;
      skipped = fromReport.skipped;
    } else if (users !== undefined) {
      const r = await ingestCsv(runtime.store, users, settings, { readOptions: usersReadOptions, command: 'reenroll' });
      runId = r.runId;
      read = r.summary.rows;
      selected = r.summary.rows;
    } else {
      const rows = await groupRevisitRows(runtime.okta!, group!);
      ({ runId } = await ingestRows(runtime.store, rows, settings, { command: 'reenroll', source: { fileName: `group ${group}` } }));
      read = rows.length;
      selected = rows.length;
    }
    out.write(`${describeSelection(read, selected, skipped, from ?? users ?? `group ${group}`)}\n`);
    logger.info(`reenroll ${runId} started`, { runId, selected, source: from ?? users ?? `group:${group}` });
    const summary = await executeRun({
      config,
      logger,
      runId,
      reportPath: flags.report as string,
      strict: Boolean(flags.strict),
      stopRequested: io.stop ? Promise.race([shutdown.requested, io.stop]) : shutdown.requested,
      runtime,
      out,
      excel: Boolean(flags.excel),
      manifest: { command: 'reenroll', options: flags, startedAt, ...(signKey ? { signKey } : {}) },
    });
    return { runId, read, selected, skipped, summary };
  } finally {
    await runtime.close();
    shutdown.dispose();
    logger.close();
  }
}

/** "Revisiting 12 of 40 rows of report.csv (left out: activated 25, failed E0000007 3)". */
export function describeSelection(read: number, selected: number, skipped: Record<string, number>, source: string): string {
  const left = Object.entries(skipped)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return `Revisiting ${selected} of ${read} rows of ${source}${left ? ` (left out: ${left})` : ''}`;
}
