/**
 * `bulk-enroll pause <runId>`, `unpause <runId>` and `cancel <runId>`: an operator moves a
 * run between states (src/runs/store.ts RunState) from any machine. Workers only work on
 * active runs: a paused run keeps its rows as they are until it is unpaused (pending
 * activations go on expiring at Okta meanwhile); a cancelled run is never worked on
 * again, and its claims on users are released for other runs. `resume <runId>` works a
 * paused or stopped run in this process.
 */
import type { Command } from 'commander';
import type { RawOptions } from '../config.js';
import { addRedisOptions } from './options.js';

type Action = 'pause' | 'unpause' | 'cancel';

const DESCRIPTIONS: Record<Action, string> = {
  pause: 'pause a run: every worker leaves it alone until `unpause` (its rows keep their state)',
  unpause: 'let workers work on a paused run again',
  cancel: 'cancel a run for good: no worker touches it again; its rows without an outcome stay pending in its report',
};

export function register(program: Command): void {
  for (const action of ['pause', 'unpause', 'cancel'] as const) {
    const cmd = program
      .command(action)
      .argument('<runId>', 'the run')
      .description(DESCRIPTIONS[action])
      .option('--reason <text>', 'why (recorded with the run and shown by status)');
    addRedisOptions(cmd);
    cmd.action(async (runId: string, flags: RawOptions) => {
      await runStateCommand(action, runId, flags);
    });
  }
}

export async function runStateCommand(action: Action, runId: string, flags: RawOptions, io: { env?: NodeJS.ProcessEnv; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const { ExitError, EXIT } = await import('../errors.js');
  const { withRunStore, noSuchRun } = await import('./with-store.js');
  const { operatorName } = await import('../runs/operator.js');
  const out = io.out ?? process.stdout;
  await withRunStore(flags, io.env, async (store, config) => {
    const meta = await store.getMeta(runId);
    if (!meta) throw new ExitError(EXIT.USAGE, noSuchRun(runId, config.prefix));
    const by = `${action === 'unpause' ? 'unpaused' : action === 'pause' ? 'paused' : 'cancelled'} by ${operatorName()}${typeof flags.reason === 'string' && flags.reason.trim() ? `: ${flags.reason.trim()}` : ''}`;
    const target = action === 'pause' ? 'paused' : action === 'unpause' ? 'active' : 'cancelled';
    if (action === 'unpause' && meta.state !== 'paused') {
      throw new ExitError(EXIT.USAGE, `Run ${runId} is ${meta.state}, not paused.${meta.state === 'stopped' ? ` Continue it with \`bulk-enroll resume ${runId}\`.` : ''}`);
    }
    const change = await store.setState(runId, target, action === 'unpause' ? '' : by);
    if (!change.ok) throw new ExitError(EXIT.USAGE, `Run ${runId} is ${change.current ?? meta.state}: it cannot be ${action === 'cancel' ? 'cancelled' : action === 'pause' ? 'paused' : 'unpaused'}.`);
    if (action === 'unpause') await handBack(store, runId, config.prefix);
    out.write(`Run ${runId}: ${change.from} → ${target}${action === 'unpause' ? '' : ` (${by})`}\n`);
  });
}

/** Rows whose jobs ended while the run was not active go back to their queues now (not after two reconciler passes). */
async function handBack(store: import('../runs/store.js').RunStore, runId: string, prefix: string): Promise<void> {
  const { Queue } = await import('bullmq');
  const { Reconciler } = await import('../queue/reconciler.js');
  const { QUEUES } = await import('../runs/keys.js');
  const { createLogger } = await import('../logger.js');
  const enrollQueue = new Queue(QUEUES.enroll, { connection: store.redis, prefix });
  const pollQueue = new Queue(QUEUES.poll, { connection: store.redis, prefix });
  try {
    await new Reconciler({ store, enrollQueue, pollQueue, logger: createLogger({ silent: true }) }).reconcileRun(runId, { immediate: true });
  } finally {
    await Promise.all([enrollQueue.close(), pollQueue.close()]);
  }
}
