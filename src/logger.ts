/**
 * winston logger: readable lines on the console (stderr), JSON lines to a log file.
 * Every line passes through redact(): Authorization headers, anything shaped like
 * `SSWS …` / `Bearer …`, registered secrets (the token, access tokens) and activation
 * material never reach a transport.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import winston from 'winston';
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

export interface LoggerOptions {
  level?: string;
  /** JSON lines file. Omit for console only. */
  file?: string;
  /** Console output; default true. Console lines go to stderr so stdout stays for results. */
  console?: boolean;
  /** Silence everything (tests). */
  silent?: boolean;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const transports: winston.transport[] = [];
  if (opts.console !== false) {
    transports.push(
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'],
        format: winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss' }),
          winston.format.printf((info) => {
            const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
            const meta = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${String(level)} ${String(message)}${meta}`;
          }),
        ),
      }),
    );
  }
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    transports.push(
      new winston.transports.File({
        filename: opts.file,
        format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
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

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return createLogger({ silent: true, console: false });
}
