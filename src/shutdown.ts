/**
 * Graceful shutdown in one place. SIGINT (Ctrl-C) and SIGTERM (docker stop, systemd,
 * kill) start an orderly stop: stop taking jobs, let active ones finish or hand them
 * back, close connections. A second signal, or a stop that takes longer than the
 * watchdog allows, ends the process at once (run state is in Redis: `resume` continues).
 * SIGHUP is left alone (a closed terminal should not stop a migration under nohup/tmux).
 */
import { removeTempFiles } from './tmp-files.js';

export interface ShutdownHandle {
  /** Resolves with the signal name when a stop was requested. */
  readonly requested: Promise<NodeJS.Signals>;
  dispose(): void;
}

export function onShutdownSignal(opts: { watchdogMs?: number; log?: (msg: string) => void } = {}): ShutdownHandle {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  let resolve!: (s: NodeJS.Signals) => void;
  const requested = new Promise<NodeJS.Signals>((r) => (resolve = r));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      log(`${signal} received: finishing active jobs and closing connections (send it again to stop at once)`);
      resolve(signal);
      const t = setTimeout(() => {
        log(`Stopping took longer than ${Math.round((opts.watchdogMs ?? 45_000) / 1000)} s; exiting now. Unfinished jobs are handed back by the stalled-job check.`);
        removeTempFiles();
        process.exit(1);
      }, opts.watchdogMs ?? 45_000);
      t.unref();
    } else {
      log(`${signal} received again: exiting now`);
      removeTempFiles();
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
