/**
 * Where an output CSV (report, plan, inventory) can go. checkReportTarget() answers
 * before any work is done, so a command can refuse a bad --report / --out before the
 * first user is enrolled; ReportWriteError is what a write that still fails (the disk
 * filled up meanwhile) throws, naming the file and the cause in words.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FatalRunError } from '../errors.js';

/** Longest file name most file systems take; the temp file adds its own part to the report's name. */
const NAME_MAX = 255;
const TEMP_NAME_EXTRA = 32;

/** Writing an output CSV failed; nothing was left behind (the old file, if any, is unchanged). */
export class ReportWriteError extends FatalRunError {
  constructor(readonly file: string, readonly reason: string, readonly code?: string) {
    super(`cannot write ${file}: ${reason}`);
  }
}

/** An errno code as the words an operator reads. */
export function describeWriteFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOSPC':
      return 'the disk is full (no space left on the device); nothing was written and an earlier file of that name is unchanged';
    case 'EDQUOT':
      return 'the disk quota is used up; nothing was written and an earlier file of that name is unchanged';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOENT':
      return 'its folder does not exist';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENAMETOOLONG':
      return 'the file name is too long';
    case 'EIO':
      return 'an input/output error from the disk';
    default:
      return e?.code ? `${e.code}: ${e.message}` : String((err as Error)?.message ?? err);
  }
}

/** What a path that exists but is not a regular file is ("a directory"), undefined for a regular file. */
export function nonFileKind(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  return 'something other than a regular file';
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Whether an output CSV can be written at `path`: undefined when it can, else the
 * problem in a sentence (the path is a directory or a device or ends with a slash, its
 * folder is missing and cannot be created, is not writable, the name is too long).
 * Creates nothing. A full disk shows only when writing: writeCsv then throws
 * ReportWriteError.
 */
export function checkReportTarget(path: string): string | undefined {
  if (!path.trim()) return 'no file name given for the report';
  if (/[\\/]$/.test(path)) return `${path} names a folder (it ends with a slash); give a file name, like ${join(path, 'report.csv')}`;
  try {
    const st = statOrUndefined(path);
    const kind = st && nonFileKind(st);
    if (kind === 'a directory') return `${path} is a directory; give a file name inside it, like ${join(path, 'report.csv')}`;
    if (kind) return `${path} is ${kind}, not a regular file`;
    if (Buffer.byteLength(basename(path)) + TEMP_NAME_EXTRA > NAME_MAX) {
      return `${path}: the file name is too long (at most ${NAME_MAX - TEMP_NAME_EXTRA} bytes)`;
    }
    const dir = dirname(resolve(path));
    // The nearest folder that exists: the report's own, or the one its folder would be created in.
    let existing = dir;
    let found = statOrUndefined(existing);
    while (!found) {
      const up = dirname(existing);
      if (up === existing) break;
      existing = up;
      found = statOrUndefined(existing);
    }
    if (found && !found.isDirectory()) {
      return `the folder ${dir} for ${path} cannot be created: ${existing} is a file, not a folder`;
    }
    try {
      accessSync(existing, constants.W_OK | constants.X_OK);
    } catch (err) {
      const why = describeWriteFailure(err);
      return existing === dir
        ? `the folder ${dir} for ${path} is not writable (${why})`
        : `the folder ${dir} for ${path} does not exist and cannot be created in ${existing} (${why})`;
    }
    return undefined;
  } catch (err) {
    return `${path} cannot be checked (${describeWriteFailure(err)})`;
  }
}
