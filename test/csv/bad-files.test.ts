/**
 * The bad-input corpus: every file in test/fixtures/bad/ with the exact message
 * (file-level problems) or the exact row outcomes (row-level problems) it must
 * produce, from test/fixtures/bad/expected.json. No Redis, no network.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectInput, readInput } from '../../src/csv/read-input.js';
import { InputFileError } from '../../src/errors.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bad');
type Expected =
  | { error: { line: number | null; message: string } }
  | { rows: Array<{ row: number; ok?: true; reason?: string }> };
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expected>;
const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();

async function collect(file: string) {
  const out = [];
  for await (const r of readInput(file)) out.push(r);
  return out;
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('bad input corpus', () => {
  it('has an expectation for every fixture and a fixture for every expectation', () => {
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  for (const name of files) {
    const want = expected[name]!;
    const file = join(dir, name);
    if ('error' in want) {
      const full = `${file}${want.error.line ? `, line ${want.error.line}` : ''}: ${want.error.message}`;
      it(`${name}: file-level error "${want.error.message.slice(0, 50)}…"`, async () => {
        for (const err of [await thrown(collect(file)), await thrown(inspectInput(file))]) {
          expect(err).toBeInstanceOf(InputFileError);
          const e = err as InputFileError;
          expect(e.message).toBe(full);
          expect(e.line ?? null).toBe(want.error.line);
          expect(e.stack ?? '').not.toContain('CsvError');
        }
      });
    } else {
      it(`${name}: row outcomes`, async () => {
        const rows = await collect(file);
        expect(rows.map((r) => (r.ok ? { row: r.value.row, ok: true } : { row: r.value.row, reason: r.value.reason }))).toEqual(
          want.rows,
        );
        for (const r of rows) if (!r.ok) expect(r.value.errorCode).toBe('INVALID_INPUT');
      });
    }
  }
});

describe('file-level problems outside the corpus', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'be-csv-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a missing file', async () => {
    const file = join(tmp, 'nope.csv');
    const err = await thrown(inspectInput(file));
    expect(err).toBeInstanceOf(InputFileError);
    expect((err as Error).message).toBe(`${file}: file not found`);
  });

  it('a directory', async () => {
    const err = await thrown(collect(tmp));
    expect(err).toBeInstanceOf(InputFileError);
    expect((err as Error).message).toBe(`${tmp}: is a directory, expected a CSV file`);
  });
});
