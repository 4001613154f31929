/**
 * The real runner, in this process: config from flags (as `bulk-enroll run` builds
 * it), startRuntime (workers, feeder, shared limiter), ingestCsv, executeRun (waits
 * for every outcome, writes the report). Stopped by the scenario's deadline.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { loadProcessConfig, loadRunSettings, type RawOptions } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startRuntime, type Runtime } from '../../src/queue/runtime.js';
import { tasks } from '../../jobs/index.js';
import { ingestCsv } from '../../src/runs/ingest.js';
import { executeRun, type RunSummary } from '../../src/runs/execute.js';
import { registerCommands } from '../../src/commands/index.js';
import { deadline, type Scope } from './cleanup.js';

export type ReportRow = Record<string, string>;

export interface RunResult {
  runId: string;
  /** Epoch ms: before the CSV was read. */
  startedAt: number;
  /** Epoch ms: the report was written. */
  endedAt: number;
  rows: ReportRow[];
  summary: RunSummary;
  /** The run settings as stored (detect mode, poll schedule). */
  settings: Record<string, unknown>;
}

export interface RunOptions {
  csv: string;
  dir: string;
  simUrl: string;
  token: string;
  redisUrl: string;
  prefix: string;
  /** Process flags as commander hands them over (camelCase). */
  processFlags: RawOptions;
  runFlags: RawOptions;
  /** The run is stopped (and the scenario fails) after this long. */
  timeoutMs: number;
}

export async function runInProcess(scope: Scope, o: RunOptions): Promise<RunResult> {
  const logFile = join(o.dir, 'runner.log');
  const config = loadProcessConfig(
    { orgUrl: o.simUrl, redis: o.redisUrl, prefix: o.prefix, logLevel: 'warn', logFile, ...o.processFlags },
    { env: { OKTA_API_TOKEN: o.token } },
  );
  const settings = loadRunSettings(o.runFlags, {});
  const logger = createLogger({ level: 'warn', file: logFile });
  scope.add('logger', logger, (l) => void l.close());
  const startedAt = Date.now();
  const runtime: Runtime = await startRuntime({ config, tasks, logger });
  scope.add('runtime', runtime, (r) => r.close());
  const { runId } = await ingestCsv(runtime.store, o.csv, settings, { command: 'run' });
  const reportPath = join(o.dir, 'report.csv');
  const stop = deadline(o.timeoutMs);
  let summary: RunSummary;
  try {
    summary = await executeRun({
      config,
      logger,
      runId,
      reportPath,
      runtime,
      tty: false,
      stopRequested: stop.reached,
      out: { write: () => true } as unknown as NodeJS.WritableStream,
    });
  } catch (err) {
    throw new Error(`runner: expected run ${runId} to finish within ${Math.round(o.timeoutMs / 1000)} s, got: ${(err as Error).message}`);
  } finally {
    stop.cancel();
  }
  const endedAt = Date.now();
  const rows = parse(readFileSync(reportPath), { columns: true, bom: true }) as ReportRow[];
  return { runId, startedAt, endedAt, rows, summary, settings: settings as unknown as Record<string, unknown> };
}

/**
 * How `bulk-enroll run` chooses activation detection, read from its own flags:
 * `--detect <log|poll>` or a `--log-watcher` switch. Undefined: the runner has no
 * System Log watcher.
 */
export interface DetectOption {
  flag: string;
  /** Run flags that select the System Log watcher / polling alone. */
  log: RawOptions;
  poll: RawOptions;
  /** The process flag setting how often the watcher reads the log (`--log-interval-ms`), when there is one. */
  intervalKey?: string;
  /** The process flag setting the System Log budget (`--logs-rate-limit`), when there is one. */
  logsRateKey?: string;
}

export function detectOption(): DetectOption | undefined {
  const program = new Command();
  registerCommands(program);
  const options = program.commands.find((c) => c.name() === 'run')?.options ?? [];
  const interval = options.find((o) => /^--log-(interval|cadence)(-ms)?$/.test(o.long ?? ''));
  const logsRate = options.find((o) => /^--logs?-rate-limit$/.test(o.long ?? ''));
  const intervalKey = { ...(interval ? { intervalKey: interval.attributeName() } : {}), ...(logsRate ? { logsRateKey: logsRate.attributeName() } : {}) };
  for (const opt of options) {
    const long = opt.long ?? '';
    const key = opt.attributeName();
    if (/^--(detect|detection)$/.test(long)) return { flag: long, log: { [key]: 'log' }, poll: { [key]: 'poll' }, ...intervalKey };
    if (/^--(log-watcher|system-log|watch-log)$/.test(long)) return { flag: long, log: { [key]: true }, poll: { [key]: false }, ...intervalKey };
  }
  return undefined;
}
