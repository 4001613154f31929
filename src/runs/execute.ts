/**
 * Running a stored run to the end in this process: start the runtime (workers,
 * feeder, reconciler), show progress, wait until every row has an outcome (or a
 * stop is requested, or something fatal happens), write the report, print the
 * summary. Shared by `run`, `resume` and `demo`.
 */
import type { ProcessConfig } from '../config.js';
import { EXIT, ExitError, FatalRunError } from '../errors.js';
import { RedisRecordsLostError } from '../redis/errors.js';
import type { Logger } from '../logger.js';
import type { Runtime } from '../queue/runtime.js';
import { writeRunReport } from './report-file.js';
import { CallRate, countersOf, createProgress } from '../progress.js';
import { collectSummary, formatSummaryTable, summaryPathFor, writeSummaryHtml } from '../summary/html.js';
import { writeManifest } from './manifest.js';
import { reportRows } from './report-rows.js';
import type { RunStore } from './store.js';

export interface ExecuteOptions {
  config: ProcessConfig;
  logger: Logger;
  runId: string;
  reportPath: string;
  strict?: boolean;
  /** Resolves when the operator asks to stop (Ctrl-C). */
  stopRequested?: Promise<unknown>;
  out?: NodeJS.WritableStream;
  /** Force progress style (tests). */
  tty?: boolean;
  /** The runtime working on the run (started by the command, with its tasks). */
  runtime: Runtime;
  /** Who stops the run when stopRequested resolves (recorded as the run's reason). */
  stopReason?: string;
  /** Write the report with a UTF-8 byte order mark for Excel (--excel). */
  excel?: boolean;
  /** What the run's manifest (`<report>.manifest.json`) records beyond the run itself. */
  manifest?: {
    /** Default: the command that created the run. */
    command?: string;
    /** The command's flags; only the allow-listed ones are recorded (src/runs/manifest.ts). */
    options?: Record<string, unknown>;
    /** When the command started (default: when executeRun started). */
    startedAt?: Date;
    /** ed25519 private key (--sign-key). */
    signKey?: import('node:crypto').KeyObject;
  };
}

export interface RunSummary {
  runId: string;
  total: number;
  activated: number;
  expired: number;
  failed: number;
  pending: number;
  durationMs: number;
  reportPath: string;
  reportSha256: string;
  /** `<report>.manifest.json`, when it was written. */
  manifestPath?: string;
  /** `<report>.html`, when it was written. */
  summaryPath?: string;
  /** Okta calls this process made (and 429 answers), from the shared limiter. */
  calls?: number;
  rateLimited?: number;
}

export function formatSummary(s: RunSummary): string {
  const lines = [
    formatSummaryTable({
      runId: s.runId,
      counts: { total: s.total, activated: s.activated, expired: s.expired, failed: s.failed, pending: s.pending },
      durationMs: s.durationMs,
      ...(s.calls !== undefined ? { calls: s.calls, rateLimited: s.rateLimited ?? 0 } : {}),
    }),
  ];
  lines.push(`Report: ${s.reportPath}`);
  if (s.summaryPath) lines.push(`Summary: ${s.summaryPath}`);
  if (s.manifestPath) lines.push(`Manifest: ${s.manifestPath}`);
  return lines.join('\n');
}

export async function executeRun(opts: ExecuteOptions): Promise<RunSummary> {
  const { config, logger, runId, runtime } = opts;
  const out = opts.out ?? process.stdout;
  const started = Date.now();
  const { store } = runtime;
  const progress = createProgress({ tty: opts.tty, label: `run ${runId}` });
  const callRate = new CallRate();
  let outcome: 'finished' | 'stopped' | 'fatal' | 'run-stopped' | 'cancelled' = 'finished';
  let fatalError: Error | undefined;
  let stateReason = '';
  let saidPaused = false;
  try {
    const meta = await store.getMeta(runId);
    if (!meta) throw new ExitError(EXIT.USAGE, `No run ${runId} in Redis (prefix ${config.prefix}). \`bulk-enroll status\` lists runs.`);
    await runtime.tick();
    let stop = false;
    opts.stopRequested?.then(() => (stop = true));
    runtime.fatal.then((e) => {
      fatalError = e;
    });
    for (;;) {
      // Reads wait while Redis is away; a fatal condition or a stop request must still end the wait.
      const read = await Promise.race([
        Promise.all([store.getMeta(runId), store.counts(runId)]),
        runtime.fatal.then(() => undefined),
        ...(opts.stopRequested ? [opts.stopRequested.then(() => undefined)] : []),
      ]);
      if (!read) {
        // the stop or the fatal condition arrived first; give a pending fatal a moment to be recorded
        await new Promise((r) => setTimeout(r, 0));
        outcome = fatalError ? 'fatal' : 'stopped';
        break;
      }
      const [m, c] = read;
      progress.update({
        done: c.done,
        total: m?.total,
        activated: c.activated,
        expired: c.expired,
        failed: c.failed,
        ...callRate.fields(countersOf(runtime.limiter?.stats()), Date.now(), config.rateLimit),
      });
      if (m?.state === 'finished') break;
      if (m?.state === 'stopped' || m?.state === 'cancelled') {
        outcome = m.state === 'stopped' ? 'run-stopped' : 'cancelled';
        stateReason = m.stateReason ?? '';
        break;
      }
      if (m?.state === 'paused' && !saidPaused) {
        saidPaused = true;
        logger.info(`run ${runId} is paused${m.stateReason ? ` (${m.stateReason})` : ''}; waiting for \`bulk-enroll unpause ${runId}\` (Ctrl-C leaves it paused)`);
      } else if (m?.state === 'active') saidPaused = false;
      if (fatalError) {
        outcome = 'fatal';
        break;
      }
      if (stop) {
        outcome = 'stopped';
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    progress.stop();
  }
  if (outcome === 'fatal' && fatalError instanceof RedisRecordsLostError) {
    // Redis no longer holds the run: a report made from it would be empty, and there is nothing to resume.
    throw fatalError;
  }
  if (outcome === 'fatal' && runtime.redis.status !== 'ready') {
    // Nothing can be read back now; everything needed to continue is kept in Redis.
    throw new FatalRunError(fatalError!.message, `No report written. Once Redis is back, continue with: bulk-enroll resume ${runId} --report ${opts.reportPath}`);
  }
  if (outcome === 'fatal' || outcome === 'stopped') {
    // Workers elsewhere must not carry on with a run its operator stopped (or that cannot go on).
    const reason = outcome === 'fatal' ? fatalError!.message : `stopped by ${opts.stopReason ?? 'Ctrl-C of run'}`;
    await store.setState(runId, 'stopped', reason).catch((err: Error) => logger.warn(`could not mark run ${runId} stopped: ${err.message}`));
  }
  const counts = await store.outcomeCountsAsRecord(runId).catch(() => undefined);
  let reportSha = '';
  try {
    reportSha = (await writeRunReport(store, runId, opts.reportPath, { bom: Boolean(opts.excel) })).sha256;
  } catch (err) {
    throw new FatalRunError(
      `could not write the report ${opts.reportPath}: ${(err as Error).message}`,
      `The run's outcomes are kept in Redis; write them elsewhere with: bulk-enroll report ${runId} --out <file>`,
    );
  }
  let manifestPath: string | undefined;
  if (reportSha) {
    try {
      const meta = await store.getMeta(runId);
      const m = opts.manifest ?? {};
      manifestPath = (
        await writeManifest({
          command: m.command ?? meta?.command ?? 'run',
          runId,
          options: { ...(m.options ?? {}), orgUrl: config.orgUrl, auth: config.authMode, prefix: config.prefix },
          startedAt: m.startedAt ?? new Date(started),
          state: outcome,
          // What the run ingested (hash taken when the file was stored), not the file as it is now.
          ...(meta?.file ? { input: { path: meta.file, ...(meta.bytes !== undefined ? { bytes: meta.bytes } : {}), ...(meta.sha256 ? { sha256: meta.sha256 } : {}) } } : {}),
          reportPath: opts.reportPath,
          counts: {
            total: counts?.total ?? 0,
            activated: counts?.activated ?? 0,
            expired: counts?.expired ?? 0,
            failed: counts?.failed ?? 0,
            pending: counts?.pending ?? 0,
          },
          ...(m.signKey ? { signKey: m.signKey } : {}),
        })
      ).file;
    } catch (err) {
      logger.error(`could not write the manifest for ${opts.reportPath}: ${(err as Error).message}`);
    }
  }
  const calls = countersOf(runtime.limiter?.stats());
  const durationMs = Date.now() - (opts.manifest?.startedAt?.getTime() ?? started);
  let summaryPath: string | undefined;
  if (reportSha) {
    try {
      const meta = await store.getMeta(runId);
      summaryPath = await writeSummaryHtml(summaryPathFor(opts.reportPath), {
        runId,
        ...(meta?.fileName ? { source: meta.fileName } : {}),
        ...(await collectSummary(reportRows(store, runId))),
        durationMs,
        ...(calls ? { calls: calls.calls, rateLimited: calls.rateLimited } : {}),
        reportPath: opts.reportPath,
        generatedAt: new Date(),
      });
    } catch (err) {
      logger.error(`could not write the HTML summary for ${opts.reportPath}: ${(err as Error).message}`);
    }
  }
  const summary: RunSummary = {
    runId,
    total: counts?.total ?? 0,
    activated: counts?.activated ?? 0,
    expired: counts?.expired ?? 0,
    failed: counts?.failed ?? 0,
    pending: counts?.pending ?? 0,
    durationMs,
    reportPath: opts.reportPath,
    reportSha256: reportSha,
    ...(manifestPath ? { manifestPath } : {}),
    ...(summaryPath ? { summaryPath } : {}),
    ...(calls ? { calls: calls.calls, rateLimited: calls.rateLimited } : {}),
  };
  if (outcome === 'fatal') {
    throw new FatalRunError(fatalError!.message, `Partial report: ${opts.reportPath}. Continue with: bulk-enroll resume ${runId}`);
  }
  if (outcome === 'run-stopped') {
    out.write(`${formatSummary(summary)}\n`);
    throw new FatalRunError(`run ${runId} stopped: ${stateReason || 'stopped by an operator'}`, `Partial report: ${opts.reportPath}. Continue with: bulk-enroll resume ${runId} --report ${opts.reportPath}`);
  }
  if (outcome === 'cancelled') {
    out.write(`${formatSummary(summary)}\n`);
    throw new ExitError(EXIT.FATAL, `Run ${runId} was cancelled${stateReason ? ` (${stateReason})` : ''}; ${summary.pending} rows never finished. Partial report: ${opts.reportPath}`);
  }
  out.write(`${formatSummary(summary)}\n`);
  if (outcome === 'stopped') {
    throw new ExitError(130, `Stopped. ${summary.pending} rows still pending; continue with: bulk-enroll resume ${runId} --report ${opts.reportPath}`);
  }
  if (opts.strict && (summary.expired > 0 || summary.failed > 0)) {
    throw new ExitError(EXIT.STRICT, `--strict: ${summary.expired + summary.failed} rows did not end activated`);
  }
  return summary;
}
