/**
 * nightly job: one tick of a schedule (`bulk-enroll schedule`). Runs inside any
 * `bulk-enroll worker` (the control queue). It takes the schedule's run lock, creates a
 * re-enrollment run from what the schedule stored in Redis (the previous night's outcome
 * rows, the first night the `--from` snapshot; or the group's members), waits while the
 * workers process it, then writes the report (and manifest) to the schedule's report
 * folder on this machine and keeps its rows in Redis as the next night's input.
 *
 *  - another tick while a night is still going: skipped and logged (the lock is held by
 *    another job id);
 *  - BullMQ running this same job again after its worker died (a stalled job): the lock
 *    holds this job id, so it is taken over and the run it names is resumed, not doubled;
 *  - the worker stopping: the job parks itself for a second (no attempt charged) and
 *    keeps the lock; whichever worker picks it up takes over and resumes.
 */
import { join, resolve } from 'node:path';
import { newRunId } from '../src/runs/keys.js';
import { ingestRows, type SourceRow } from '../src/runs/ingest.js';
import { writeRunReport } from '../src/runs/report-file.js';
import type { NightlyContext, NightlyDeps, NightlyJobData, NightlyResult } from '../src/queue/tasks.js';
import { writeManifest } from '../src/runs/manifest.js';
import { reportRows } from '../src/runs/report-rows.js';
import { selectRows } from '../src/reenroll/select.js';
import { groupRevisitRows } from '../src/reenroll/sources.js';
import type { ScheduleState } from '../src/reenroll/schedules.js';

export async function processNightly(data: NightlyJobData, ctx: NightlyContext, deps: NightlyDeps): Promise<NightlyResult> {
  const { store, schedules, logger } = deps;
  const name = data.schedule;
  const log = (level: 'info' | 'warn', message: string, meta: Record<string, unknown> = {}) => logger[level](`nightly ${name}: ${message}`, { schedule: name, jobId: ctx.jobId, ...meta });

  const def = await schedules.get(name);
  if (!def) {
    log('warn', 'skipped: no such schedule is stored in Redis (removed?)');
    return { kind: 'skipped', reason: 'unknown schedule' };
  }

  const lock = schedules.lock(name, deps.lockTtlMs);
  const token = `${ctx.jobId}#${Math.random().toString(36).slice(2, 10)}`;
  const got = await lock.acquire(ctx.jobId, token, deps.now());
  if (got.kind === 'held') {
    const reason = `the previous nightly run${got.record.runId ? ` ${got.record.runId}` : ''} (job ${got.record.jobId}) is still going`;
    await schedules.noteSkip(name, reason, new Date(deps.now()));
    log('warn', `skipped: ${reason}`, { heldBy: got.record.jobId, runId: got.record.runId });
    return { kind: 'skipped', reason, heldBy: got.record.jobId, ...(got.record.runId ? { runId: got.record.runId } : {}) };
  }

  let lost = false;
  const wake = new AbortController();
  const onAbort = () => wake.abort();
  ctx.signal.addEventListener('abort', onAbort);
  const beat = lock.heartbeat(
    token,
    () => {
      lost = true;
      wake.abort();
    },
    (err) => log('warn', `lock heartbeat failed (will retry): ${err.message}`),
  );
  try {
    // The run this job works on: the one it started before a stall, or a new one.
    let runId = got.kind === 'takeover' ? got.record.runId : undefined;
    const resumed = runId !== undefined;
    if (got.kind === 'takeover') log('info', runId ? `took over after a stall; resuming run ${runId}` : 'took over after a stall before a run was started');

    if (!runId) {
      const busy = await settlePrevious(def, deps);
      if (busy) {
        const reason = `the previous nightly run ${busy} is still going (its job is gone; its rows are still being worked on)`;
        await schedules.noteSkip(name, reason, new Date(deps.now()));
        log('warn', `skipped: ${reason}`, { runId: busy });
        return { kind: 'skipped', reason, runId: busy };
      }
      runId = newRunId(new Date(deps.now()));
      if (!(await lock.setRunId(token, runId))) throw new Error(`lost the run lock of schedule ${name} before starting a run`);
      await schedules.setFields(name, { currentRunId: runId });
    }
    const meta = await store.getMeta(runId);
    if (!meta || meta.state === 'enqueuing') {
      const fresh = (await schedules.get(name)) ?? def;
      const rows = await nightRows(fresh, deps);
      await ingestRows(store, rows, fresh.settings, { runId, command: 'reenroll', source: { fileName: `schedule ${name}` } });
      log('info', `run ${runId} started with ${rows.length} rows (from ${fresh.source.kind === 'group' ? `group ${fresh.source.groupId}` : fresh.rowsFrom === 'snapshot' ? 'the registered report' : `run ${fresh.rowsFrom}`})`, { runId, rows: rows.length });
    }

    // Wait while the workers (this process and others) work on it.
    for (;;) {
      const m = await store.getMeta(runId);
      if (m?.state === 'finished') break;
      if (lost) {
        log('warn', `lost the run lock while waiting for run ${runId}; another worker has this job now`, { runId });
        return { kind: 'lost', runId, reason: 'lock lost' };
      }
      if (ctx.signal.aborted) {
        // The worker is stopping: keep the lock (it names this job) and hand the job back.
        log('info', `worker stopping; handing the job back (run ${runId} continues)`, { runId });
        beat.stop();
        await ctx.delayUntil(deps.now() + 1000);
      }
      await sleep(deps.waitIntervalMs, wake.signal);
    }

    const finished = await finishNight(name, runId, deps, def);
    await lock.release(token);
    log('info', `run ${runId} finished: report ${finished.report}`, { runId, ...finished.counts });
    return { kind: 'finished', runId, report: finished.report, counts: finished.counts, resumed };
  } finally {
    // On an error the lock stays with this job id: BullMQ's retry of this job takes it over.
    beat.stop();
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Before a new night: if the run of an earlier tick finished but its job never wrote
 * the report (the job was lost for good), write it now, so its rows become the input.
 * Returns the run id when that run is still going.
 */
async function settlePrevious(def: ScheduleState, deps: NightlyDeps): Promise<string | undefined> {
  const current = def.currentRunId;
  if (!current || current === def.lastRunId) return undefined;
  const meta = await deps.store.getMeta(current);
  if (!meta) return undefined;
  if (meta.state !== 'finished') return current;
  await finishNight(def.name, current, deps, def);
  deps.logger.warn(`nightly ${def.name}: run ${current} had finished without its report; written now`, { schedule: def.name, runId: current });
  return undefined;
}

/** The rows of tonight's run: the group's members, or the stored rows selected as `reenroll --from` would. */
async function nightRows(def: ScheduleState, deps: NightlyDeps): Promise<SourceRow[]> {
  if (def.source.kind === 'group') {
    if (!deps.okta) throw new Error(`schedule ${def.name} reads group ${def.source.groupId}, but this process has no Okta client`);
    return groupRevisitRows(deps.okta, def.source.groupId);
  }
  return (await selectRows(deps.schedules.rows(def.name), { includeFailed: def.includeFailed, includePending: def.includePending })).rows;
}

/**
 * Report + manifest to the schedule's folder, the run's rows kept as the next night's
 * input. A schedule removed meanwhile still gets its report (with the definition the
 * night started with), and nothing of it is written back to Redis.
 */
async function finishNight(name: string, runId: string, deps: NightlyDeps, started: ScheduleState): Promise<{ report: string; counts: Record<string, number> }> {
  const { store, schedules } = deps;
  const current = await schedules.get(name);
  const def = current ?? started;
  const meta = await store.getMeta(runId);
  const report = resolve(join(def.reportDir, `${name}-${runId}.csv`));
  await writeRunReport(store, runId, report);
  const c = await store.outcomeCountsAsRecord(runId);
  const counts = { total: c.total ?? 0, activated: c.activated, expired: c.expired, failed: c.failed, pending: c.pending };
  try {
    await writeManifest({
      command: 'reenroll',
      runId,
      options: {
        ...(def.source.kind === 'group' ? { group: def.source.groupId } : {}),
        includeFailed: def.includeFailed,
        includePending: def.includePending,
        ...(def.settings.maxActivations ? { maxAttempts: def.settings.maxActivations } : {}),
        ...(deps.orgUrl ? { orgUrl: deps.orgUrl } : {}),
        prefix: store.prefix,
      },
      startedAt: meta?.createdAt || new Date(deps.now()),
      state: 'finished',
      reportPath: report,
      counts,
      summary: { schedule: name, source: def.source.kind === 'group' ? `group ${def.source.groupId}` : def.rowsFrom === 'snapshot' ? `snapshot of ${def.source.file}` : `run ${def.rowsFrom}` },
    });
  } catch (err) {
    deps.logger.error(`nightly ${name}: could not write the manifest for ${report}: ${(err as Error).message}`);
  }
  if (!current) {
    deps.logger.warn(`nightly ${name}: the schedule was removed during run ${runId}; report written, nothing kept for a next night`, { schedule: name, runId });
    return { report, counts };
  }
  if (def.source.kind === 'report') await schedules.replaceRows(name, reportRows(store, runId), runId);
  await schedules.setFields(name, {
    lastRunId: runId,
    lastReport: report,
    lastFinishedAt: new Date(deps.now()).toISOString(),
    lastCounts: JSON.stringify(counts),
  });
  return { report, counts };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    if (signal.aborted) return r();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      r();
    }
    signal.addEventListener('abort', done);
  });
}
