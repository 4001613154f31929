/**
 * What the CSV tests share: a temp folder per test file (removed after it) with numbered
 * files written into it, every row of readInput, and the error a promise ends with.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { readInput, type ReadInputOptions, type RowResult } from '../../src/csv/read-input.js';

/** A temp folder for this test file; `file(content)` writes the next numbered CSV into it. */
export function useTempFiles(label: string): { dir: string; file: (content: string | Buffer) => string } {
  const dir = mkdtempSync(join(tmpdir(), `be-${label}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    dir,
    file: (content) => {
      const f = join(dir, `f${++n}.csv`);
      writeFileSync(f, content);
      return f;
    },
  };
}

export async function rows(f: string, opts?: ReadInputOptions): Promise<RowResult[]> {
  const out: RowResult[] = [];
  for await (const r of readInput(f, opts)) out.push(r);
  return out;
}

/** The error `p` rejects with; fails the test when it resolves. */
export async function error(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}
