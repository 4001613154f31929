/**
 * `bulk-enroll status [runId] [--json] [--watch]`: counts per outcome, rows done / total,
 * finished or not. Without a run id: the most recent runs.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addRedisOptions } from './options.js';

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .argument('[runId]', 'the run (omit to list recent runs)')
    .description('show a run\'s progress: counts per outcome, rows done / total, finished or not')
    .option('--json', 'print JSON: {"runId","total","done","outcomes":{…},"finished"}')
    .option('--watch', 'keep showing progress until the run finishes');
  addRedisOptions(cmd);
  cmd.action(async (runId: string | undefined, flags: RawOptions) => {
    await statusCommand(runId, flags);
  });
}

export interface RunStatus {
  runId: string;
  /** enqueuing, active, paused, stopped, cancelled, finished. */
  state: string;
  /** Why the run is paused, stopped or cancelled. */
  reason?: string;
  total: number | null;
  done: number;
  outcomes: { activated: number; expired: number; failed: number; pending: number };
  finished: boolean;
}

export async function statusCommand(runId: string | undefined, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<RunStatus | undefined> {
  const { ExitError, EXIT } = await import('../errors.js');
  const { createProgress } = await import('../progress.js');
  const { withRunStore, noSuchRun } = await import('./with-store.js');
  const out = io.out ?? process.stdout;
  return withRunStore(flags, io.env, async (store, config) => {
    const redis = store.redis;
    if (!runId) {
      const ids = await store.listRuns(20);
      if (flags.json) {
        const list = [];
        for (const id of ids) list.push(await readStatus(store, id));
        out.write(`${JSON.stringify(list)}\n`);
        return undefined;
      }
      if (!ids.length) out.write(`No runs under prefix ${config.prefix}.\n`);
      for (const id of ids) {
        const s = await readStatus(store, id);
        const meta = await store.getMeta(id);
        out.write(`${id}  ${s.state.padEnd(9)}  ${s.done}/${s.total ?? '?'}  ${meta?.fileName ?? ''}${s.reason ? `  (${s.reason})` : ''}\n`);
      }
      return undefined;
    }
    if (!(await store.getMeta(runId))) throw new ExitError(EXIT.USAGE, noSuchRun(runId, config.prefix));
    if (flags.watch) {
      const { CallRate, readCallStats } = await import('../progress.js');
      const progress = createProgress({ label: `run ${runId}`, intervalMs: 2000 });
      const calls = new CallRate();
      for (;;) {
        const s = await readStatus(store, runId);
        // Calls and 429s of every worker on this Redis and prefix (they publish their limiter's counters).
        const c = await readCallStats(redis, config.prefix).catch(() => undefined);
        const callFields = c?.processes ? calls.fields(c, Date.now(), c.budgetPerMinute) : {};
        progress.update({ done: s.done, total: s.total ?? undefined, ...s.outcomes, ...callFields });
        if (s.finished || s.state === 'cancelled' || s.state === 'stopped') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      progress.stop();
    }
    const s = await readStatus(store, runId);
    if (flags.json) out.write(`${JSON.stringify(s)}\n`);
    else {
      out.write(
        `Run ${s.runId}: ${s.state === 'active' ? 'in progress' : s.state}${s.reason ? ` (${s.reason})` : ''}, ${s.done}/${s.total ?? '?'} rows done\n` +
          `  activated ${s.outcomes.activated}\n  expired   ${s.outcomes.expired}\n  failed    ${s.outcomes.failed}\n  pending   ${s.outcomes.pending}\n`,
      );
    }
    return s;
  });
}

export async function readStatus(store: import('../runs/store.js').RunStore, runId: string): Promise<RunStatus> {
  const [meta, c] = await Promise.all([store.getMeta(runId), store.counts(runId)]);
  const total = meta?.total ?? null;
  return {
    runId,
    state: meta?.state ?? 'unknown',
    ...(meta?.stateReason ? { reason: meta.stateReason } : {}),
    total,
    done: c.done,
    outcomes: { activated: c.activated, expired: c.expired, failed: c.failed, pending: total === null ? 0 : Math.max(0, total - c.done) },
    finished: meta?.state === 'finished',
  };
}
