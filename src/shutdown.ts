/**
 * Graceful shutdown in one place. SIGINT (Ctrl-C) and SIGTERM (docker stop, systemd,
 * Kubernetes, kill) start an orderly stop: stop taking jobs, let active ones finish or
 * hand them back, close connections. A second signal, or a stop that takes longer than
 * the close timeout (--close-timeout-ms), ends the process at once (run state is in
 * Redis: `resume` continues, and the stalled-job check hands unfinished jobs to another
 * worker). SIGHUP is left alone (a closed terminal should not stop a migration under
 * nohup/tmux).
 *
 * One timeout bounds the whole stop, so that it fits inside the grace period of whatever
 * sends the signal (Kubernetes: 30 s by default, compose: stop_grace_period, systemd:
 * TimeoutStopSec). Active jobs get most of it (jobGraceMs); the rest is for closing the
 * queues and connections and, for `run`, writing the partial report.
 */
import type { Logger } from './logger.js';

export const DEFAULT_CLOSE_TIMEOUT_MS = 25_000;

/** What is kept back from the close timeout for everything after the active jobs: at most 8 s, at most half. */
export function jobGraceMs(closeTimeoutMs: number): number {
  return closeTimeoutMs - Math.min(8000, Math.floor(closeTimeoutMs / 2));
}
import { removeTempFiles } from './tmp-files.js';

export interface ShutdownHandle {
  /** Resolves with the signal name when a stop was requested. */
  readonly requested: Promise<NodeJS.Signals>;
  /** True from the first signal on (health checks answer 503). */
  readonly stopping: boolean;
  /** The close timeout in force. */
  readonly closeTimeoutMs: number;
  /** How long active jobs may take on close before they are handed back: startRuntime's closeTimeoutMs. */
  readonly jobGraceMs: number;
  dispose(): void;
}

export interface ShutdownOptions {
  /** The longest a stop may take before the process exits (default 25 s). */
  closeTimeoutMs?: number;
  /** Where the stop is announced (in the process's log format); default: plain lines on stderr. */
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export function onShutdownSignal(opts: ShutdownOptions = {}): ShutdownHandle {
  const plain = (m: string) => void process.stderr.write(`${m}\n`);
  const info = opts.logger ? (m: string) => void opts.logger!.info(m) : plain;
  const warn = opts.logger ? (m: string) => void opts.logger!.warn(m) : plain;
  const closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  let resolve!: (s: NodeJS.Signals) => void;
  const requested = new Promise<NodeJS.Signals>((r) => (resolve = r));
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      info(`${signal} received: finishing active jobs and closing connections, at most ${formatSeconds(closeTimeoutMs)} (send it again to stop at once)`);
      resolve(signal);
      const t = setTimeout(() => {
        warn(`Stopping took longer than ${formatSeconds(closeTimeoutMs)} (--close-timeout-ms); exiting now. Unfinished jobs are handed back by the stalled-job check.`);
        removeTempFiles();
        process.exit(1);
      }, closeTimeoutMs);
      t.unref();
    } else {
      warn(`${signal} received again: exiting now`);
      removeTempFiles();
      process.exit(130);
    }
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested,
    get stopping() {
      return count > 0;
    },
    closeTimeoutMs,
    jobGraceMs: jobGraceMs(closeTimeoutMs),
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
