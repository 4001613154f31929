/**
 * Process-level errors. Commands throw these; only src/cli.ts turns them into an
 * exit code. Okta errors live in src/okta/errors.ts.
 */

/** Exit codes: 0 ok, 1 fatal, 2 usage/config/input file, 3 --strict and a row did not end activated. */
export const EXIT = { OK: 0, FATAL: 1, USAGE: 2, STRICT: 3 } as const;

/** A command wants the process to end with this code (message already printed, or to print). */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

/** Configuration problems, every one of them at once ("--org-url: expected https://…, got …"). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** The input file as a whole is unusable (not CSV, no usable header, empty). Nothing was enqueued. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  constructor(readonly file: string, message: string, readonly line?: number) {
    super(`${file}${line ? `, line ${line}` : ''}: ${message}`);
  }
}

/** A fatal condition for the run (token rejected, Redis gone too long). */
export class FatalRunError extends Error {
  override readonly name = 'FatalRunError';
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

/**
 * Run f, adding its ConfigError problems to `problems` instead of throwing, so a command
 * can check every flag and list every problem together. Other errors pass through.
 */
export function collectProblems<T>(problems: string[], f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
}

export async function collectProblemsAsync<T>(problems: string[], f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(...e.problems);
      return undefined;
    }
    throw e;
  }
}
