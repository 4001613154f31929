/**
 * What a re-enrollment run adds to the run settings stored with every run: the
 * "revisit" mode (look at the user's factors before acting) and the attempt cap.
 * Stored in the same settings JSON, so every worker honours them; runs created
 * without them (`run`, `enqueue`) simply have neither.
 */
import type { RunSettings } from '../config.js';

export interface RevisitSettings {
  /**
   * Each row is a revisit: list the user's factors first; restart an expired push
   * activation, enroll a missing factor, leave an active one alone.
   */
  revisit?: boolean;
  /** Activation attempts allowed per user and factor type across all runs; undefined: counted, not capped. */
  maxActivations?: number;
}

export type ReenrollRunSettings = RunSettings & RevisitSettings;

export const DEFAULT_MAX_ACTIVATIONS = 5;

export function revisitOf(settings: RunSettings): RevisitSettings {
  const s = settings as ReenrollRunSettings;
  return {
    ...(s.revisit === true ? { revisit: true } : {}),
    ...(typeof s.maxActivations === 'number' && s.maxActivations > 0 ? { maxActivations: s.maxActivations } : {}),
  };
}

/** `--max-attempts`: a whole number from 1 (p-queue style message), or the default. */
export function parseMaxAttempts(value: unknown, flag = '--max-attempts'): { value: number } | { problem: string } {
  if (value === undefined || value === null || value === '') return { value: DEFAULT_MAX_ACTIVATIONS };
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 1 || n > 1000) return { problem: `${flag}: expected a whole number from 1 to 1000, got \`${String(value)}\`` };
  return { value: n };
}
