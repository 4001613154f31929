/**
 * Faults for chaos tests, set at start (options, CLI flags) and changed at run time
 * (`POST /__sim/faults`): latency, injected 500/503, connection resets, huge answers,
 * absurd rate-limit resets, error summaries that echo the credential, doubled
 * X-Rate-Limit-* headers and the org's clock offset. One validation for both ways in.
 */
import type { SimClock } from './clock.js';
import type { Random } from './random.js';
import { isInt, isRatio, problemList } from './validate.js';

const TEN_YEARS_MS = 10 * 365.25 * 24 * 3600 * 1000;
/** Largest padded answer: beyond this the simulator itself would be the one out of memory. */
export const MAX_HUGE_BODY_BYTES = 512 * 1024 * 1024;

export interface FaultSettings {
  /** Added latency per API request, fixed or a [min, max] range. */
  latencyMs: number | [number, number];
  /** Share of API requests answered 500/503 without being processed. */
  errorRate: number;
  /** Share of API requests processed and then answered by a destroyed connection. */
  resetRate: number;
  /** Answers to factor calls are padded with whitespace to this many bytes (still valid JSON). Unset or 0: off. */
  hugeBodyBytes?: number;
  /** With hugeBodyBytes: only the next N factor answers are padded. */
  hugeBodyCount?: number;
  /** With hugeBodyBytes: this share of factor answers is padded. Neither count nor rate: every one. */
  hugeBodyRate?: number;
  /** The next N factor-bucket requests get 429, X-Rate-Limit-Remaining 0 and a Reset ten years ahead. */
  absurdReset: number;
  /** Error answers' errorSummary carries the first 16 characters of the Authorization credential. */
  echoToken: boolean;
  /** Every X-Rate-Limit-* header is sent twice, the second more generous (higher Limit and Remaining, earlier Reset). */
  duplicateRateLimitHeaders: boolean;
  /** The org's clock minus real time (ms): Date, created, expiresAt, published, X-Rate-Limit-Reset follow it. */
  clockOffsetMs: number;
}

export const FAULT_KEYS = [
  'latencyMs',
  'errorRate',
  'resetRate',
  'hugeBodyBytes',
  'hugeBodyCount',
  'hugeBodyRate',
  'absurdReset',
  'echoToken',
  'duplicateRateLimitHeaders',
  'clockOffsetMs',
] as const satisfies ReadonlyArray<keyof FaultSettings>;

export function defaultFaults(): FaultSettings {
  return { latencyMs: 0, errorRate: 0, resetRate: 0, absurdReset: 0, echoToken: false, duplicateRateLimitHeaders: false, clockOffsetMs: 0 };
}

/** Every problem of a complete set of fault settings, in resolveOptions' wording. */
export function faultProblems(f: FaultSettings): string[] {
  const { problems, need } = problemList();
  if (Array.isArray(f.latencyMs)) {
    const [lmin, lmax] = f.latencyMs;
    need(f.latencyMs.length === 2 && isInt(lmin, 0) && isInt(lmax, 0) && (lmin as number) <= (lmax as number), 'latencyMs', 'an integer >= 0 or a range [min, max]', f.latencyMs);
  } else {
    need(isInt(f.latencyMs, 0), 'latencyMs', 'an integer >= 0 or a range [min, max]', f.latencyMs);
  }
  need(isRatio(f.errorRate), 'errorRate', 'a number from 0 to 1', f.errorRate);
  need(isRatio(f.resetRate), 'resetRate', 'a number from 0 to 1', f.resetRate);
  const bytes = f.hugeBodyBytes;
  need(bytes === undefined || isInt(bytes, 0, MAX_HUGE_BODY_BYTES), 'hugeBodyBytes', `an integer from 0 (off) to ${MAX_HUGE_BODY_BYTES}`, bytes);
  const on = bytes !== undefined && bytes > 0;
  need(f.hugeBodyCount === undefined || isInt(f.hugeBodyCount, 1), 'hugeBodyCount', 'an integer >= 1', f.hugeBodyCount);
  need(f.hugeBodyRate === undefined || (isRatio(f.hugeBodyRate) && f.hugeBodyRate > 0), 'hugeBodyRate', 'a number above 0, at most 1', f.hugeBodyRate);
  need(f.hugeBodyCount === undefined || on, 'hugeBodyCount', 'set only with hugeBodyBytes', f.hugeBodyCount);
  need(f.hugeBodyRate === undefined || on, 'hugeBodyRate', 'set only with hugeBodyBytes', f.hugeBodyRate);
  need(f.hugeBodyCount === undefined || f.hugeBodyRate === undefined, 'hugeBodyRate', 'left out when hugeBodyCount is set (one or the other)', f.hugeBodyRate);
  need(isInt(f.absurdReset, 0), 'absurdReset', 'an integer >= 0', f.absurdReset);
  need(typeof f.echoToken === 'boolean', 'echoToken', 'true or false', f.echoToken);
  need(typeof f.duplicateRateLimitHeaders === 'boolean', 'duplicateRateLimitHeaders', 'true or false', f.duplicateRateLimitHeaders);
  need(isInt(f.clockOffsetMs, -TEN_YEARS_MS, TEN_YEARS_MS), 'clockOffsetMs', 'an integer number of milliseconds, at most ten years either way', f.clockOffsetMs);
  return problems;
}

export interface FaultSnapshot extends FaultSettings {
  /** Padded answers still to come when hugeBodyCount is set. */
  hugeBodyLeft?: number;
  /** Absurd-reset answers still to come. */
  absurdResetLeft: number;
  /** Padded answers sent so far. */
  hugeBodies: number;
  /** Absurd-reset answers sent so far. */
  absurdResets: number;
}

/** The faults in force, and what is left of the counted ones. */
export class Faults {
  private settings: FaultSettings;
  private hugeBodyLeft: number | undefined;
  private absurdResetLeft: number;
  private hugeBodies = 0;
  private absurdResets = 0;

  /** `initial`: the simulator's options (only the fault settings are kept). */
  constructor(
    initial: FaultSettings,
    private readonly clock: SimClock,
  ) {
    const own: Record<string, unknown> = {};
    for (const k of FAULT_KEYS) if (initial[k] !== undefined) own[k] = initial[k];
    this.settings = own as unknown as FaultSettings;
    if (!this.settings.hugeBodyBytes) delete this.settings.hugeBodyBytes;
    this.hugeBodyLeft = initial.hugeBodyCount;
    this.absurdResetLeft = initial.absurdReset;
    clock.offsetMs = initial.clockOffsetMs;
  }

  get current(): Readonly<FaultSettings> {
    return this.settings;
  }

  snapshot(): FaultSnapshot {
    return {
      ...this.settings,
      ...(this.hugeBodyLeft !== undefined ? { hugeBodyLeft: this.hugeBodyLeft } : {}),
      absurdResetLeft: this.absurdResetLeft,
      hugeBodies: this.hugeBodies,
      absurdResets: this.absurdResets,
    };
  }

  /**
   * Applies a `POST /__sim/faults` body: the keys given replace the current ones. The
   * hugeBody* keys go as a group: with any of them, a count or rate not given is cleared
   * (and the count starts again); hugeBodyBytes 0 or null turns padding off. Returns
   * every problem and changes nothing when there is one.
   */
  update(patch: unknown): string[] {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      return [`Expected a JSON object with some of ${FAULT_KEYS.map((k) => `\`${k}\``).join(', ')}, got ${JSON.stringify(patch)}`];
    }
    const p = patch as Record<string, unknown>;
    const unknown = Object.keys(p).filter((k) => !(FAULT_KEYS as readonly string[]).includes(k));
    if (unknown.length) return unknown.map((k) => `Expected one of ${FAULT_KEYS.map((x) => `\`${x}\``).join(', ')}, got \`${k}\``);
    const next: Record<string, unknown> = { ...this.settings };
    for (const k of FAULT_KEYS) if (k in p && !k.startsWith('hugeBody')) next[k] = p[k];
    const huge = 'hugeBodyBytes' in p || 'hugeBodyCount' in p || 'hugeBodyRate' in p;
    if (huge) {
      const bytes = 'hugeBodyBytes' in p ? p.hugeBodyBytes : next.hugeBodyBytes;
      delete next.hugeBodyBytes;
      delete next.hugeBodyCount;
      delete next.hugeBodyRate;
      if (bytes !== null && bytes !== undefined && bytes !== 0) next.hugeBodyBytes = bytes;
      if (p.hugeBodyCount !== null && p.hugeBodyCount !== undefined) next.hugeBodyCount = p.hugeBodyCount;
      if (p.hugeBodyRate !== null && p.hugeBodyRate !== undefined) next.hugeBodyRate = p.hugeBodyRate;
    }
    const settings = next as unknown as FaultSettings;
    const problems = faultProblems(settings);
    if (problems.length) return problems;
    this.settings = settings;
    if (huge) this.hugeBodyLeft = settings.hugeBodyCount;
    if ('absurdReset' in p) this.absurdResetLeft = settings.absurdReset;
    this.clock.offsetMs = settings.clockOffsetMs;
    return [];
  }

  /** Bytes to pad this factor answer to, or undefined (counts the answer when padded). */
  takeHugeBody(random: Random): number | undefined {
    const bytes = this.settings.hugeBodyBytes;
    if (!bytes) return undefined;
    if (this.hugeBodyLeft !== undefined) {
      if (this.hugeBodyLeft <= 0) return undefined;
      this.hugeBodyLeft--;
    } else if (this.settings.hugeBodyRate !== undefined && random() >= this.settings.hugeBodyRate) {
      return undefined;
    }
    this.hugeBodies++;
    return bytes;
  }

  /** Whether this factor-bucket request gets an absurd reset (counts it). */
  takeAbsurdReset(): boolean {
    if (this.absurdResetLeft <= 0) return false;
    this.absurdResetLeft--;
    this.absurdResets++;
    return true;
  }

  /** X-Rate-Limit-Reset of an absurd reset: ten years after `now`, epoch seconds. */
  static absurdResetAt(now: number): string {
    return String(Math.ceil((now + TEN_YEARS_MS) / 1000));
  }
}
