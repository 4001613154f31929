/**
 * Starts bench/sim-child.ts (startSimulator in its own process) and reads its
 * inspection endpoints (/__sim/stats, /factors, /events, /requests) over HTTP.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LogEvent, SimFactorRecord, SimRequestRecord, SimStats, SimulatorOptions } from '../../src/simulator/index.js';
import type { Scope } from './cleanup.js';

const CHILD = fileURLToPath(new URL('../sim-child.ts', import.meta.url));

export interface BenchSim {
  url: string;
  token: string;
  pid: number;
  stats(): Promise<SimStats>;
  factors(): Promise<SimFactorRecord[]>;
  events(): Promise<LogEvent[]>;
  requests(): Promise<SimRequestRecord[]>;
}

export async function startSimProcess(scope: Scope, options: Partial<SimulatorOptions>): Promise<BenchSim> {
  const token = 'bench-token-0123456789abcdef';
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ token, ...options })], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  scope.add('simulator', child, async (c) => {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`simulator: expected "listening on <url>" within 20 s, got ${JSON.stringify(out)} ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator: exited with code ${code} before listening: ${stderr}`));
    });
  });
  const get = async <T>(name: string): Promise<T> => {
    const res = await fetch(`${url}/__sim/${name}`);
    if (!res.ok) throw new Error(`simulator: GET /__sim/${name}: expected 200, got ${res.status}`);
    return (await res.json()) as T;
  };
  return {
    url,
    token,
    pid: child.pid!,
    stats: () => get<SimStats>('stats'),
    factors: () => get<SimFactorRecord[]>('factors'),
    events: () => get<LogEvent[]>('events'),
    requests: () => get<SimRequestRecord[]>('requests'),
  };
}
