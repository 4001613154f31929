/**
 * Everything a scenario starts (Redis, the simulator process, the runner, spawned CLI
 * processes) is registered in a Scope and stopped when the scenario ends, pass or fail.
 * On SIGINT / SIGTERM every live scope is closed before the bench exits; a second
 * signal exits at once.
 */

type Closer = () => Promise<void> | void;

const live = new Set<Scope>();

export class Scope {
  private readonly closers: Array<{ name: string; close: Closer }> = [];
  private closed = false;

  constructor(readonly name: string) {
    live.add(this);
  }

  /** Registers `close` for `value` (closed in reverse order of registration). */
  add<T>(name: string, value: T, close: (v: T) => Promise<void> | void): T {
    if (this.closed) throw new Error(`scope ${this.name}: expected an open scope to register ${name} in, got a closed one`);
    this.closers.push({ name, close: () => close(value) });
    return value;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const c of this.closers.reverse()) {
      try {
        await c.close();
      } catch (err) {
        process.stderr.write(`bench: stopping ${c.name} of ${this.name} failed: ${(err as Error).message}\n`);
      }
    }
  }
}

async function closeAll(): Promise<void> {
  for (const s of [...live]) await s.close();
}

let interrupted: ((signal: NodeJS.Signals) => void) | undefined;
/** Resolves when the operator interrupts the bench (scenarios stop waiting). */
export const interruptedSignal = new Promise<NodeJS.Signals>((r) => (interrupted = r));

export function installSignalHandlers(): void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      process.stderr.write(`bench: ${signal} again, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`bench: ${signal} received, stopping Redis, simulator and runner processes (again to exit at once)\n`);
    interrupted?.(signal);
    const watchdog = setTimeout(() => {
      process.stderr.write('bench: cleanup took longer than 30 s, exiting\n');
      process.exit(130);
    }, 30_000);
    watchdog.unref();
    void closeAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** A promise that resolves after `ms` (or on interrupt), and its cancel function. */
export function deadline(ms: number): { reached: Promise<'deadline' | NodeJS.Signals>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const reached = Promise.race([
    new Promise<'deadline'>((r) => {
      timer = setTimeout(() => r('deadline'), ms);
    }),
    interruptedSignal,
  ]);
  return { reached, cancel: () => clearTimeout(timer) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
