/**
 * `-` as the input file means standard input. The input is read more than once (the
 * first pass that checks the whole file, its SHA-256, then the rows), and a pipe can be
 * read only once: so standard input is copied, once per process, to an owner-only
 * temporary file that every reader then opens, and that is removed when the process
 * ends (src/tmp-files.ts). A terminal on standard input is refused instead of waited on.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputFileError } from '../errors.js';
import { trackTempFile } from '../tmp-files.js';

/** The file name that means standard input. */
export const STDIN = '-';

/** How messages name an input: `standard input` for `-`, else the path as given. */
export function inputLabel(file: string): string {
  return file === STDIN ? 'standard input' : file;
}

let spooled: Promise<string> | undefined;

/** The path of this process's copy of standard input (made on the first call). */
export function stdinSpool(): Promise<string> {
  spooled ??= (async () => {
    if (process.stdin.isTTY) {
      throw new InputFileError(
        inputLabel(STDIN),
        '`-` reads the CSV from standard input, but standard input is a terminal; pipe the file in (`cat users.csv | bulk-enroll validate -`) or give its name',
      );
    }
    return spoolToTempFile(process.stdin);
  })();
  return spooled;
}

/**
 * Copy a stream to a new owner-only (0600) file in the temp folder, listed for removal
 * at exit before it is created. Returns its path. A failure (disk full) removes it.
 */
export async function spoolToTempFile(source: AsyncIterable<Buffer | string>, dir = tmpdir()): Promise<string> {
  const path = join(dir, `bulk-enroll-stdin-${process.pid}-${randomBytes(6).toString('hex')}.csv`);
  const forget = trackTempFile(path);
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
    for await (const chunk of source) await handle.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    await handle.close();
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(path).catch(() => {});
    forget();
    const code = (err as NodeJS.ErrnoException)?.code;
    throw new InputFileError(inputLabel(STDIN), `could not be copied to a temporary file in ${dir} (${code ?? (err as Error)?.message ?? String(err)})`);
  }
  return path;
}
