/**
 * Live progress. On a terminal: a cli-progress bar with counts by outcome and an ETA.
 * Elsewhere (cron, CI, a log file): one concise line at a steady interval on stderr,
 * and nothing else, so log parsing is not disturbed.
 */
import cliProgress from 'cli-progress';

export interface ProgressState {
  done: number;
  total?: number;
  activated: number;
  expired: number;
  failed: number;
  /** Optional extras: calls/s and 429s, when known. */
  callsPerSec?: number;
  rateLimited?: number;
}

export interface Progress {
  update(s: ProgressState): void;
  stop(): void;
}

export function createProgress(opts: { tty?: boolean; label: string; intervalMs?: number; stream?: NodeJS.WriteStream }): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {value}/{total} | activated {activated} expired {expired} failed {failed}{extra} | ETA {eta_formatted}`,
        hideCursor: true,
        stream,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(s) {
        const payload = { activated: s.activated, expired: s.expired, failed: s.failed, extra: extra(s) };
        if (!started) {
          bar.start(s.total ?? 0, s.done, payload);
          started = true;
        } else {
          if (s.total !== undefined) bar.setTotal(s.total);
          bar.update(s.done, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const interval = opts.intervalMs ?? 5000;
  let last = 0;
  let lastLine = '';
  const started = Date.now();
  return {
    update(s) {
      const now = Date.now();
      const line = `${opts.label}: ${s.done}/${s.total ?? '?'} done (activated ${s.activated}, expired ${s.expired}, failed ${s.failed})${extra(s)}`;
      if (now - last >= interval && line !== lastLine) {
        last = now;
        lastLine = line;
        stream.write(`[${Math.round((now - started) / 1000)}s] ${line}\n`);
      }
    },
    stop() {},
  };
}

function extra(s: ProgressState): string {
  const parts: string[] = [];
  if (s.callsPerSec !== undefined) parts.push(`${s.callsPerSec.toFixed(1)} calls/s`);
  if (s.rateLimited) parts.push(`429s ${s.rateLimited}`);
  return parts.length ? ` | ${parts.join(', ')}` : '';
}
