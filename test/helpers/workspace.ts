/**
 * Per-test workspace for end-to-end tests: a temporary folder, a Redis key prefix of its
 * own, and a slot for the simulator. afterEach stops every CLI process the test started,
 * closes the simulator and removes the prefix's keys and the folder, pass or fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { SimulatorHandle } from '../../src/simulator/index.js';
import { cleanPrefix, redisUrl, uniquePrefix } from './redis.js';
import { killAll } from './cli.js';

export interface Workspace {
  dir: string;
  prefix: string;
  sim?: SimulatorHandle;
}

export function useWorkspace(label: string): Workspace {
  const ws: Workspace = { dir: '', prefix: '' };
  beforeEach(() => {
    ws.dir = mkdtempSync(join(tmpdir(), `be-${label}-`));
    ws.prefix = uniquePrefix(label);
  });
  afterEach(async () => {
    await killAll();
    await ws.sim?.close();
    ws.sim = undefined;
    await cleanPrefix(redisUrl(), ws.prefix);
    rmSync(ws.dir, { recursive: true, force: true });
  });
  return ws;
}

/** An output stream that drops everything (commands called in-process). */
export const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
