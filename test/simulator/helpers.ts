/**
 * Test helpers for the simulator: a started simulator closed after each test, a small
 * undici client, the two Okta references parsed (the seed document's JSON blocks as
 * printed, the spec excerpt's examples), and a comparison of JSON shapes.
 */
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterEach } from 'vitest';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../../src/simulator/index.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);

const started: Array<{ sim: SimulatorHandle; pool: Pool }> = [];
const tempDirs: string[] = [];

afterEach(async () => {
  const all = started.splice(0);
  await Promise.all(all.map(async ({ sim, pool }) => {
    await pool.destroy();
    await sim.close();
  }));
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Sim {
  sim: SimulatorHandle;
  /** Calls the simulator with `Authorization: SSWS test-token` unless headers say otherwise. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Follows an absolute href from an answer (its path is called on the simulator). */
  follow(method: string, href: string, body?: unknown): Promise<Answer>;
  users: Array<{ id: string; login: string }>;
}

/** Starts a simulator for this test (closed in afterEach). */
export async function sim(opts: Partial<SimulatorOptions> = {}): Promise<Sim> {
  const handle = await startSimulator({ users: 20, ...opts });
  const pool = new Pool(handle.url, { connections: 16, pipelining: 1 });
  started.push({ sim: handle, pool });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await pool.request({
      method: method as 'GET',
      path,
      headers: { authorization: 'SSWS test-token', accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    const ct = String(res.headers['content-type'] ?? '');
    return { status: res.statusCode, headers: res.headers, body: ct.includes('json') && text ? JSON.parse(text) : text };
  };
  const follow = (method: string, href: string, body?: unknown) => {
    const u = new URL(href);
    return call(method, u.pathname + u.search, body);
  };
  return { sim: handle, call, follow, users: handle.users() };
}

/** Writes a temporary CSV file (removed after the test). */
export function csvFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sim-test-'));
  tempDirs.push(dir);
  const file = join(dir, 'users.csv');
  writeFileSync(file, text);
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock a test moves by hand (the simulator's `clock` option): time-based rules without sleeps. */
export function manualClock(start: number) {
  let t = start;
  return { now: () => t, set: (ms: number) => (t = ms), advance: (ms: number) => (t += ms) };
}

/** What `fn` throws (undefined when it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 3000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

// ---- the references ----------------------------------------------------------------

/**
 * The seed document's JSON blocks as printed, made parseable without touching values:
 * trailing commas removed and the stray ` >` after the barcode placeholder dropped.
 * [0] enroll request, [1] enroll answer (301), [2] poll pending, [3] poll activated, [4] poll expired.
 */
export function seedBlocks(): Array<Record<string, unknown>> {
  const text = readFileSync(new URL('seed-push-factor-api.txt', FIXTURES), 'utf8');
  const blocks: string[] = [];
  let depth = 0;
  let cur: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (depth > 0 && trimmed && !/^["{}[\]]/.test(trimmed)) {
      // The document's prose resumed inside a block: the block lost its closing braces in extraction.
      blocks.push(cur.join('\n') + '}'.repeat(depth));
      cur = [];
      depth = 0;
    }
    if (depth === 0 && trimmed !== '{') continue;
    cur.push(line);
    for (const ch of line.replace(/"(?:[^"\\]|\\.)*"/g, '')) {
      if (ch === '{') depth++;
      if (ch === '}') depth--;
    }
    if (depth === 0) {
      blocks.push(cur.join('\n'));
      cur = [];
    }
  }
  if (cur.length) blocks.push(cur.join('\n') + '}'.repeat(depth));
  return blocks.map((b) => JSON.parse(b.replace(/"\s*>\s*$/gm, '"').replace(/,(\s*[}\]])/g, '$1')) as Record<string, unknown>);
}

/** The seed's HTTP lines: status line and Location of the enroll answer. */
export function seedEnrollHead(): { status: number; location: string } {
  const text = readFileSync(new URL('seed-push-factor-api.txt', FIXTURES), 'utf8');
  const status = /^HTTP\/1\.1 (\d{3})/m.exec(text);
  const location = /^Location: (\S+)/m.exec(text);
  return { status: Number(status![1]), location: location![1]! };
}

/** Examples of the spec excerpt (components.examples.<name>.value). */
export function specExample(name: string): unknown {
  const require = createRequire(import.meta.url);
  const yaml = require('js-yaml') as { load(text: string): unknown };
  const doc = yaml.load(readFileSync(new URL('factors-openapi-excerpt.yaml', FIXTURES), 'utf8')) as {
    components: { examples: Record<string, { value: unknown }> };
  };
  const ex = doc.components.examples[name];
  if (!ex) throw new Error(`no example ${name} in the spec excerpt`);
  return ex.value;
}

/**
 * The shape of a JSON value: keys (sorted) and nesting, with value kinds
 * (string, number, boolean, null; arrays by their first element).
 */
export function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = shape((v as Record<string, unknown>)[k]);
    return out;
  }
  return typeof v;
}

/** Trims the padding the seed's text extraction put inside quoted values. */
export function unpad(v: unknown): unknown {
  if (typeof v === 'string') return v.trim();
  if (Array.isArray(v)) return v.map(unpad);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unpad(x)]));
  return v;
}
