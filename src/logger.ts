/**
 * winston logger. Console lines go to standard error (standard output stays for results
 * that scripts parse): readable text with an ISO date on a terminal, one JSON object per
 * line elsewhere (containers, systemd, CI), with runId / row / jobId first when a line
 * has them. A log file is written only when asked for (--log-file), as JSON lines, and
 * rotates by size. Every line passes through redact(): Authorization headers, anything
 * shaped like `SSWS …` / `Bearer …`, registered secrets (the token, access tokens) and
 * activation material never reach a transport.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import winston from 'winston';
import TransportStream from 'winston-transport';
import { redact } from './redact.js';

/** Redaction lives in src/redact.ts; re-exported so existing imports keep working. */
export { redact, registerSecret } from './redact.js';

const SENSITIVE_KEYS = /^(authorization|token|apiToken|api_token|accessToken|access_token|privateKey|private_key|barcode|sharedSecret|qrcode|secrets?|password|client_assertion)$/i;

function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 6) return value;
  if (typeof value === 'string') return redact(value);
  if (value instanceof Error) return redact(value.message);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEYS.test(k) ? '[REDACTED]' : redactValue(v, depth + 1);
    return out;
  }
  return value;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    (info as Record<string, unknown>)[key] = SENSITIVE_KEYS.test(key) ? '[REDACTED]' : redactValue(v);
  }
  const splat = Symbol.for('splat');
  delete (info as Record<string | symbol, unknown>)[splat];
  return info;
});

export type Logger = winston.Logger;

/** `json`: one JSON object per line; `text`: readable lines. */
export type LogFormat = 'json' | 'text';

export interface LoggerOptions {
  level?: string;
  /** JSON lines file, rotated by size. Omit for no file. */
  file?: string;
  /** Console output; default true. Console lines go to stderr so stdout stays for results. */
  console?: boolean;
  /** Console format; default text when stderr is a terminal, else JSON. */
  format?: LogFormat;
  /** The log file is rotated when it reaches this many bytes (default 50 MiB). */
  maxSizeBytes?: number;
  /** Rotated files kept, the current one included (default 5). */
  maxFiles?: number;
  /** Silence everything (tests). */
  silent?: boolean;
  /** Where console lines go (tests); default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The logging part of a process's configuration (src/config.ts ProcessConfig). */
export interface LogSettings {
  logLevel: string;
  logFile?: string;
  logFormat?: LogFormat;
  logMaxSizeBytes?: number;
  logMaxFiles?: number;
}

export const DEFAULT_LOG_MAX_SIZE_BYTES = 50 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

/** createLogger's options from a process's configuration. */
export function loggerOptions(c: LogSettings): LoggerOptions {
  return {
    level: c.logLevel,
    ...(c.logFile ? { file: c.logFile } : {}),
    ...(c.logFormat ? { format: c.logFormat } : {}),
    ...(c.logMaxSizeBytes !== undefined ? { maxSizeBytes: c.logMaxSizeBytes } : {}),
    ...(c.logMaxFiles !== undefined ? { maxFiles: c.logMaxFiles } : {}),
  };
}

/** Fields that tie a line to a run, a row or a job: first in every JSON line that has them. */
const CORRELATION = ['runId', 'row', 'jobId'] as const;

/** {timestamp, level, message, runId, row, jobId, …rest}: the order an operator reads in. */
const orderFields = winston.format((info) => {
  const rec = info as Record<string | symbol, unknown>;
  const ordered: Record<string | symbol, unknown> = { timestamp: rec.timestamp, level: rec.level, message: rec.message };
  for (const k of CORRELATION) {
    if (rec[k] !== undefined) ordered[k] = rec[k];
  }
  for (const k of Reflect.ownKeys(rec)) {
    if (!(k in ordered)) ordered[k] = rec[k];
  }
  return ordered as typeof info;
});

/** One JSON object per line; safe with cycles and BigInt (logform's stringify), keys in the order above. */
const jsonLine = winston.format.combine(orderFields(), winston.format.json({ deterministic: false }));

const textLine = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const meta = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return `${String(timestamp)} ${String(level)} ${String(message)}${meta}`;
});

/** Options, or a process's configuration (its log fields are read: src/config.ts). */
export function createLogger(from: LoggerOptions | LogSettings = {}): Logger {
  const opts = 'logLevel' in from ? loggerOptions(from) : from;
  const transports: winston.transport[] = [];
  if (opts.console !== false) {
    const stream = opts.stream ?? process.stderr;
    const format = opts.format ?? (stream.isTTY ? 'text' : 'json');
    transports.push(
      new winston.transports.Stream({
        stream,
        format: winston.format.combine(winston.format.timestamp(), format === 'json' ? jsonLine : textLine),
      }),
    );
  }
  if (opts.file) {
    transports.push(
      new RotatingFile({
        filename: opts.file,
        maxSizeBytes: opts.maxSizeBytes ?? DEFAULT_LOG_MAX_SIZE_BYTES,
        maxFiles: opts.maxFiles ?? DEFAULT_LOG_MAX_FILES,
        format: winston.format.combine(winston.format.timestamp(), jsonLine),
      }),
    );
  }
  return winston.createLogger({
    level: opts.level ?? 'info',
    silent: opts.silent ?? false,
    format: redactFormat(),
    transports: transports.length ? transports : [new winston.transports.Console({ silent: true })],
  });
}

/**
 * A log file rotated by size: the newest lines are always in `filename`; before a line
 * would take it past maxSizeBytes it becomes `<filename>.1` (the older ones move up to
 * `.2` …) and at most maxFiles files are kept, the current one included. Lines are
 * appended synchronously, one write each, so none is lost across a rotation or at exit
 * (winston's own File transport drops lines when it rotates under load) and `tail -F`
 * follows the file.
 */
class RotatingFile extends TransportStream {
  private fd: number | undefined;
  private size = 0;

  constructor(private readonly o: { filename: string; maxSizeBytes: number; maxFiles: number; format: winston.Logform.Format }) {
    super({ format: o.format });
    mkdirSync(dirname(o.filename), { recursive: true });
    this.open();
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    // Symbol.for('message'): the formatted line (triple-beam's MESSAGE).
    const line = Buffer.from(`${String(info[Symbol.for('message')])}\n`);
    try {
      if (this.size > 0 && this.size + line.length > this.o.maxSizeBytes) this.rotate();
      if (this.fd === undefined) this.open();
      writeSync(this.fd!, line);
      this.size += line.length;
    } catch (err) {
      // A full disk or a removed folder must not stop the migration: the console still has the line.
      this.emit('warn', err);
    }
    next();
  }

  override close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private open(): void {
    this.fd = openSync(this.o.filename, 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    this.close();
    const name = (i: number) => (i === 0 ? this.o.filename : `${this.o.filename}.${i}`);
    rmSync(name(this.o.maxFiles - 1), { force: true });
    for (let i = this.o.maxFiles - 2; i >= 0; i--) {
      try {
        renameSync(name(i), name(i + 1));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.open();
  }
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return createLogger({ silent: true, console: false });
}
