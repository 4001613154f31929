/** The shapes scenarios hand back to bench/run.ts. */
import type { DetectOption } from './runner.js';

export interface BenchContext {
  quick: boolean;
  long: boolean;
  /** How `bulk-enroll run` selects the System Log watcher; undefined: it has none. */
  detect: DetectOption | undefined;
}

/** Numbers (medians are taken over --repeat) and words (kept from the last repetition). */
export interface Measurement {
  metrics: Record<string, number>;
  info: Record<string, string>;
}

export interface TableRow {
  scenario: string;
  result: string;
  target: string;
  verdict: 'met' | 'not met' | '—';
  note: string;
}

export interface Case {
  /** budget-2s, anchor, mix-poll, … (unique). */
  id: string;
  scenario: 'budget' | 'mix' | 'lifted' | 'memory' | 'anchor';
  /** Undefined: the case is listed in the table but not run (e.g. no System Log watcher). */
  run?: () => Promise<Measurement>;
  /** Why the case was not run. */
  skipped?: string;
  /** The case's table row… */
  row?(m: Measurement | undefined, all: ReadonlyMap<string, Measurement>): TableRow;
  /** …or rows, when one measurement answers several questions. */
  rows?(m: Measurement | undefined, all: ReadonlyMap<string, Measurement>): TableRow[];
}
