/**
 * Opening a file the tool reads (an input CSV, a previous report). `-` is standard
 * input, through its spooled copy (src/csv/stdin-spool.ts). Anything that is not a
 * regular file (a directory, a named pipe, a device, a socket) is refused at once
 * with a sentence saying what it is, and is never opened in a way that could block:
 * stat first, then a non-blocking open and an fstat of what was actually opened (the
 * path may have changed in between). Every failure is an InputFileError naming the file.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ConfigError, InputFileError } from '../errors.js';
import { inputLabel, stdinSpool, STDIN } from './stdin-spool.js';

export interface OpenedInput {
  handle: FileHandle;
  size: number;
  /** How messages name the file (`standard input` for `-`). */
  label: string;
}

/** The words of the messages: what the file should be, and what a missing one is called. */
export interface InputWords {
  expected: string;
  missing: string;
}

export const CSV_INPUT: InputWords = { expected: 'a CSV file', missing: 'file not found' };
export const REPORT_INPUT: InputWords = { expected: 'a report CSV', missing: 'report not found' };

const PIPE_HINT = 'the file is read more than once; to pipe data in, give `-` as the file name and send the data to standard input';

/** Why a non-regular file is refused, or undefined for a regular file. */
function refusal(st: Stats, words: InputWords): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return `is a directory, expected ${words.expected}`;
  if (st.isFIFO()) return `is a named pipe (FIFO), not a regular file: ${PIPE_HINT}`;
  if (st.isCharacterDevice()) return `is a device (character device), not a regular file; expected ${words.expected}`;
  if (st.isBlockDevice()) return `is a block device, not a regular file; expected ${words.expected}`;
  if (st.isSocket()) return `is a socket, not a regular file: ${PIPE_HINT}`;
  return `is not a regular file; expected ${words.expected}`;
}

/** A file-system error as the sentence an operator needs. */
export function inputError(label: string, err: unknown, words: InputWords = CSV_INPUT): Error {
  if (err instanceof InputFileError || err instanceof ConfigError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return new InputFileError(label, words.missing);
    case 'EACCES':
    case 'EPERM':
      return new InputFileError(label, 'cannot be read (permission denied)');
    case 'EISDIR':
      return new InputFileError(label, `is a directory, expected ${words.expected}`);
    case 'ENXIO':
      return new InputFileError(label, `is a socket or a device without a reader, not a regular file: ${PIPE_HINT}`);
    case 'ENOTDIR':
      return new InputFileError(label, 'cannot be read (a part of the path is a file, not a folder)');
    case 'ELOOP':
      return new InputFileError(label, 'cannot be read (too many symbolic links: a link loop?)');
    default:
      return new InputFileError(label, `cannot be read (${code ?? (err as Error)?.message ?? String(err)})`);
  }
}

/** Open `file` for reading (see the file comment). The caller closes the handle. */
export async function openInput(file: string, words: InputWords = CSV_INPUT): Promise<OpenedInput> {
  const label = inputLabel(file);
  const path = file === STDIN ? await stdinSpool() : file;
  try {
    const before = refusal(await stat(path), words);
    if (before) throw new InputFileError(label, before);
    // O_NONBLOCK: should a FIFO have taken the file's place since the stat, opening it does not wait for a writer.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      const st = await handle.stat();
      const now = refusal(st, words);
      if (now) throw new InputFileError(label, now);
      return { handle, size: st.size, label };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  } catch (err) {
    throw inputError(label, err, words);
  }
}
