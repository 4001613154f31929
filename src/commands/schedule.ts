/**
 * `bulk-enroll schedule`: nightly re-enrollment run by the workers themselves.
 *
 *   schedule --name nightly --cron "30 1 * * *" --tz Europe/Berlin --from <report.csv> [--report-dir reports]
 *   schedule --name finance --cron "0 2 * * *" --tz UTC --group <groupId>
 *   schedule --list [--json]
 *   schedule --remove <name>
 *
 * Registers a BullMQ job scheduler on the `control` queue (upsertJobScheduler, idempotent
 * by name). What each tick needs is stored in Redis now: the `--from` report's rows (a
 * snapshot: the file need not exist on any worker) or the group id, the selection and the
 * run settings. Each tick runs inside whichever `bulk-enroll worker` takes it
 * (jobs/nightly.ts) and writes its report to --report-dir on that worker's machine.
 * Registering an existing name again replaces its timing and settings; without --from /
 * --group it keeps the rows it has (the latest night's outcomes).
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addRedisOptions, addRunSettingOptions } from './options.js';
import { collectProblems, collectProblemsAsync } from '../errors.js';

export function register(program: Command): void {
  const cmd = program
    .command('schedule')
    .description('schedule nightly re-enrollment inside the running workers (BullMQ job scheduler), list or remove schedules')
    .option('--name <name>', 'the schedule to create or update (letters, digits, _ . -)')
    .option('--cron <pattern>', 'when, as a cron pattern ("30 1 * * *" = 01:30 daily; a 6th leading field gives seconds)')
    .option('--tz <zone>', 'time zone of --cron, e.g. Europe/Berlin (default UTC); mind daylight-saving gaps: 02:00-03:00 does not exist one spring night in Europe/Berlin')
    .option('--every <ms>', 'instead of --cron: every this many milliseconds (tests and demos)')
    .option('--from <report>', 'a previous outcome report: its rows are stored in Redis now and revisited on the first night; later nights start from the previous night\'s outcomes')
    .option('--group <groupId>', 'instead of --from: revisit every member of this Okta group each night')
    .option('--report-dir <dir>', 'where the worker running a night writes its report and manifest (default reports)')
    .option('--include-failed', 'also revisit failed rows whose cause may pass (network, 5xx, lost jobs)')
    .option('--include-pending', 'also revisit rows left pending')
    .option('--max-attempts <n>', 'activations a user may get per factor type across all runs and nights (default 5)')
    .option('--list', 'list the schedules: timing, next run, source, last night')
    .option('--json', 'with --list: JSON')
    .option('--remove <name>', 'remove this schedule (its runs stay in Redis)');
  addRedisOptions(cmd);
  addRunSettingOptions(cmd);
  cmd.action(async (flags: RawOptions) => {
    await scheduleCommand(flags);
  });
}

export interface ScheduleListing {
  name: string;
  cron?: string;
  tz?: string;
  every?: number;
  /** Next tick (ISO), as BullMQ has it; undefined when BullMQ has no scheduler by this name. */
  next?: string;
  source: string;
  rows: number;
  rowsFrom: string;
  reportDir: string;
  maxAttempts?: number;
  lastRunId?: string;
  lastFinishedAt?: string;
  lastReport?: string;
  lastCounts?: Record<string, number>;
  skipped: number;
}

export type ScheduleResult =
  | { action: 'upsert'; name: string; next?: string; rows: number; created: boolean }
  | { action: 'list'; schedules: ScheduleListing[] }
  | { action: 'remove'; name: string; removed: boolean };

export async function scheduleCommand(flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<ScheduleResult> {
  const { loadProcessConfig, loadRunSettings } = await import('../config.js');
  const { ConfigError, ExitError, EXIT } = await import('../errors.js');
  const { createRedis } = await import('../queue/connection.js');
  const { ensureRedis } = await import('./redis-check.js');
  const { ScheduleStore, scheduleNameProblem } = await import('../reenroll/schedules.js');
  const { controlQueue, NIGHTLY_JOB } = await import('../reenroll/control.js');
  const { parseMaxAttempts } = await import('../reenroll/settings.js');
  const { groupIdProblem } = await import('../reenroll/sources.js');
  const out = io.out ?? process.stdout;

  const problems: string[] = [];
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const name = str(flags.name);
  const removeName = str(flags.remove);
  const modes = [name !== undefined && `--name ${name}`, flags.list ? '--list' : '', removeName !== undefined && `--remove ${removeName}`].filter(Boolean);
  if (modes.length !== 1) problems.push(`--name, --list, --remove: expected exactly one of them, got ${modes.length ? modes.join(' and ') : 'none'}`);
  for (const n of [name, removeName]) if (n !== undefined) { const bad = scheduleNameProblem(n); if (bad) problems.push(removeName === n && name !== n ? bad.replace('--name', '--remove') : bad); }
  if (flags.json && !flags.list) problems.push('--json: only used with --list');

  const config = collectProblems(problems, () => loadProcessConfig(flags, { env: io.env, needOkta: false }));

  // ---- what an upsert needs ----
  const cron = str(flags.cron)?.trim();
  const tz = str(flags.tz)?.trim();
  const from = str(flags.from);
  const group = str(flags.group)?.trim();
  let every: number | undefined;
  let settings;
  let cap: number | undefined;
  if (name !== undefined) {
    if ((cron === undefined) === (flags.every === undefined)) problems.push(`--cron, --every: expected exactly one of them, got ${cron === undefined ? 'neither' : 'both'}`);
    if (flags.every !== undefined) {
      every = Number(String(flags.every).trim());
      if (!Number.isInteger(every) || every < 1000) problems.push(`--every: expected a whole number of milliseconds from 1000, got \`${String(flags.every)}\``);
    }
    if (tz !== undefined && cron === undefined) problems.push('--tz: only used with --cron');
    if (tz !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
      } catch {
        problems.push(`--tz: expected an IANA time zone such as Europe/Berlin or UTC, got \`${tz}\``);
      }
    }
    if (cron !== undefined) {
      const { CronExpressionParser } = await import('cron-parser');
      try {
        CronExpressionParser.parse(cron, tz ? { tz } : {});
      } catch (err) {
        problems.push(`--cron: expected a cron pattern such as "30 1 * * *" (minute hour day month weekday), got \`${cron}\` (${(err as Error).message})`);
      }
    }
    if (from !== undefined && group !== undefined) problems.push(`--from, --group: expected one source, got both (--from ${from} and --group ${group})`);
    if (group !== undefined) {
      const bad = groupIdProblem(group);
      if (bad) problems.push(bad);
    }
    const c = parseMaxAttempts(flags.maxAttempts);
    if ('problem' in c) problems.push(c.problem);
    else cap = c.value;
    settings = collectProblems(problems, () => loadRunSettings(flags, io.env));
  } else {
    for (const [flag, v] of [['--cron', cron], ['--tz', tz], ['--every', flags.every], ['--from', from], ['--group', group], ['--report-dir', flags.reportDir], ['--max-attempts', flags.maxAttempts]] as const) {
      if (v !== undefined) problems.push(`${flag}: only used with --name (creating or updating a schedule)`);
    }
  }
  if (problems.length || !config) throw new ConfigError(problems);

  // A --from report is read before anything is written: a file that is not a report stops here.
  let snapshot: { rows: import('../csv/report.js').ReportRow[]; sha256: string } | undefined;
  if (name !== undefined && from !== undefined) {
    const { selectFromReport } = await import('../reenroll/select.js');
    const s = await selectFromReport(from);
    snapshot = { rows: s.all, sha256: s.sha256 };
  }

  await ensureRedis(config);
  const redis = createRedis(config.redis);
  const queue = controlQueue(config, redis);
  const schedules = new ScheduleStore(redis, config.prefix);
  try {
    if (flags.list) {
      const listed = await listSchedules(schedules, queue);
      out.write(flags.json ? `${JSON.stringify(listed, null, 2)}\n` : `${formatListing(listed)}\n`);
      return { action: 'list', schedules: listed };
    }
    if (removeName !== undefined) {
      const [a, b] = await Promise.all([queue.removeJobScheduler(removeName), schedules.remove(removeName)]);
      if (!a && !b) throw new ExitError(EXIT.USAGE, `--remove ${removeName}: there is no schedule by this name (prefix ${config.prefix}); \`bulk-enroll schedule --list\` shows them`);
      out.write(`Schedule ${removeName} removed. Its runs stay in Redis (\`bulk-enroll status\`).\n`);
      return { action: 'remove', name: removeName, removed: true };
    }

    // ---- create or update ----
    const existing = await schedules.get(name!);
    let source: import('../reenroll/schedules.js').ScheduleSource;
    if (from !== undefined) source = { kind: 'report', file: from.split(/[\\/]/).pop()!, sha256: snapshot!.sha256, rows: snapshot!.rows.length };
    else if (group !== undefined) source = { kind: 'group', groupId: group };
    else if (existing) source = existing.source;
    else throw new ConfigError([`--from, --group: a new schedule needs a source (a previous report or a group id), got neither for --name ${name}`]);
    const state = await schedules.save(
      {
        name: name!,
        source,
        reportDir: str(flags.reportDir) ?? existing?.reportDir ?? 'reports',
        includeFailed: Boolean(flags.includeFailed),
        includePending: Boolean(flags.includePending),
        settings: { ...settings!, revisit: true, maxActivations: cap! },
        ...(cron !== undefined ? { cron } : {}),
        ...(tz !== undefined ? { tz } : {}),
        ...(every !== undefined ? { every } : {}),
      },
      snapshot?.rows,
    );
    const repeat = every !== undefined ? { every } : { pattern: cron!, ...(tz ? { tz } : {}) };
    await queue.upsertJobScheduler(name!, repeat, {
      name: NIGHTLY_JOB,
      data: { schedule: name! },
      opts: { attempts: 5, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    });
    const next = (await queue.getJobScheduler(name!))?.next;
    const nextIso = next ? new Date(next).toISOString() : undefined;
    const when = every !== undefined ? `every ${every} ms` : `"${cron}" (${tz ?? 'UTC'})`;
    const what = source.kind === 'group' ? `the members of group ${source.groupId}` : `the rows of ${source.file} (${state.rowCount} stored, ${state.rowsFrom === 'snapshot' ? 'as registered' : `outcomes of run ${state.rowsFrom}`})`;
    out.write(
      `Schedule ${name} ${existing ? 'updated' : 'created'}: ${when}${nextIso ? `, next ${nextIso}` : ''}.\n` +
        `Each night a worker revisits ${what} (--max-attempts ${cap}) and writes its report to ${state.reportDir}/ on its machine.\n`,
    );
    return { action: 'upsert', name: name!, ...(nextIso ? { next: nextIso } : {}), rows: state.rowCount, created: !existing };
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
  }
}

async function listSchedules(
  schedules: import('../reenroll/schedules.js').ScheduleStore,
  queue: import('bullmq').Queue,
): Promise<ScheduleListing[]> {
  const jobs = await queue.getJobSchedulers(0, -1, true);
  const byName = new Map(jobs.map((j) => [j.key, j]));
  const names = [...new Set([...(await schedules.names()), ...jobs.map((j) => j.key)])].sort();
  const list: ScheduleListing[] = [];
  for (const name of names) {
    const s = await schedules.get(name);
    const j = byName.get(name);
    list.push({
      name,
      ...(j?.pattern ? { cron: j.pattern } : s?.cron ? { cron: s.cron } : {}),
      ...(j?.tz ? { tz: j.tz } : s?.tz ? { tz: s.tz } : {}),
      ...(j?.every ? { every: Number(j.every) } : s?.every ? { every: s.every } : {}),
      ...(j?.next ? { next: new Date(j.next).toISOString() } : {}),
      source: !s ? '(not stored: remove and register again)' : s.source.kind === 'group' ? `group ${s.source.groupId}` : `report ${s.source.file}`,
      rows: s?.rowCount ?? 0,
      rowsFrom: s?.rowsFrom ?? '',
      reportDir: s?.reportDir ?? '',
      ...(s?.settings.maxActivations ? { maxAttempts: s.settings.maxActivations } : {}),
      ...(s?.lastRunId ? { lastRunId: s.lastRunId } : {}),
      ...(s?.lastFinishedAt ? { lastFinishedAt: s.lastFinishedAt } : {}),
      ...(s?.lastReport ? { lastReport: s.lastReport } : {}),
      ...(s?.lastCounts ? { lastCounts: s.lastCounts } : {}),
      skipped: s?.skipped ?? 0,
    });
  }
  return list;
}

export function formatListing(list: ScheduleListing[]): string {
  if (!list.length) return 'No schedules. Create one with: bulk-enroll schedule --name nightly --cron "30 1 * * *" --tz Europe/Berlin --from <report.csv>';
  return list
    .map((s) => {
      const when = s.every !== undefined ? `every ${s.every} ms` : `"${s.cron}" (${s.tz ?? 'UTC'})`;
      const lines = [`${s.name}: ${when}, next ${s.next ?? '(not scheduled in BullMQ)'}`, `  source ${s.source}; ${s.rows} rows stored (${s.rowsFrom === 'snapshot' ? 'as registered' : s.rowsFrom === 'group' ? 'read each night' : `from run ${s.rowsFrom}`}); reports to ${s.reportDir}/`];
      if (s.lastRunId) {
        const c = s.lastCounts ?? {};
        lines.push(`  last run ${s.lastRunId} finished ${s.lastFinishedAt ?? '?'}: activated ${c.activated ?? 0}, expired ${c.expired ?? 0}, failed ${c.failed ?? 0}; report ${s.lastReport ?? '?'}`);
      }
      if (s.skipped) lines.push(`  ticks skipped while a night was still going: ${s.skipped}`);
      return lines.join('\n');
    })
    .join('\n');
}
