/**
 * What `/__sim/*` and the SimulatorHandle tell a test about the org, as it truly is
 * (whatever shape the API answers in): every factor with its status, activation result
 * and attempts, the same grouped per user, and the counts chaos tests check
 * (duplicateEnrollments: users holding two or more factors of one type).
 */
import type { Directory } from './directory.js';
import type { FactorStore, Factor } from './factors.js';
import type { Render } from './dialects.js';

export interface SimFactorRecord {
  userId: string;
  factorId: string;
  factorType: string;
  provider: string;
  /** The truth, in the dialect's words: PENDING_ACTIVATION, ACTIVE (seed: ACTIVATED), EXPIRED (whatever listShape shows). */
  status: string;
  created: string;
  lastUpdated: string;
  /** Activation attempts started (push). */
  attempts?: number;
  /** A pending push's activation: WAITING, TIMEOUT, CANCELLED, ERROR. */
  factorResult?: string;
  /** Who created it: an enroll request, the Okta Verify bundle of a push enroll, the user on their own (traits), the users file (`factors`). */
  origin: Factor['origin'];
}

export interface SimUserFactors {
  userId: string;
  login: string;
  /** The user's status (ACTIVE, SUSPENDED, …). */
  status: string;
  factors: SimFactorRecord[];
  /** Factor types the user holds two or more of. */
  duplicateTypes: string[];
}

export class Inspection {
  constructor(
    private readonly store: FactorStore,
    private readonly directory: Directory,
    private readonly render: Render,
  ) {}

  record(f: Factor, now: number): SimFactorRecord {
    const result = this.store.result(f, now);
    const expired = result === 'TIMEOUT';
    return {
      userId: f.userId,
      factorId: f.id,
      factorType: f.factorType,
      provider: f.provider,
      status: this.render.status(f, result),
      created: new Date(f.created).toISOString(),
      lastUpdated: new Date(expired && f.attempt ? Math.max(f.lastUpdated, f.attempt.expiresAt) : f.lastUpdated).toISOString(),
      ...(f.attempt ? { attempts: f.attempt.n } : {}),
      ...(result ? { factorResult: result } : {}),
      origin: f.origin,
    };
  }

  /** Every factor (of one user with `userId`), in creation order per user. */
  factors(now: number, userId?: string): SimFactorRecord[] {
    const list = userId !== undefined ? this.store.ofUser(userId) : [...this.store.all()];
    return list.map((f) => this.record(f, now));
  }

  /** Per user: the users holding factors (every user with `all`, one with `userId`). */
  userFactors(now: number, opts: { all?: boolean; userId?: string } = {}): SimUserFactors[] {
    const users = opts.userId !== undefined ? [this.directory.get(opts.userId)].filter((u) => u !== undefined) : [...this.directory.users()];
    const out: SimUserFactors[] = [];
    for (const u of users) {
      const factors = this.factors(now, u.id);
      if (!factors.length && !opts.all && opts.userId === undefined) continue;
      out.push({ userId: u.id, login: u.login, status: u.status, factors, duplicateTypes: duplicateTypes(factors) });
    }
    return out;
  }

  /** Users holding two or more (non-deleted) factors of one type. */
  duplicateEnrollments(): number {
    const perUser = new Map<string, Map<string, number>>();
    for (const f of this.store.all()) {
      let m = perUser.get(f.userId);
      if (!m) perUser.set(f.userId, (m = new Map()));
      m.set(f.factorType, (m.get(f.factorType) ?? 0) + 1);
    }
    let n = 0;
    for (const m of perUser.values()) if ([...m.values()].some((c) => c > 1)) n++;
    return n;
  }
}

function duplicateTypes(factors: SimFactorRecord[]): string[] {
  const count = new Map<string, number>();
  for (const f of factors) count.set(f.factorType, (count.get(f.factorType) ?? 0) + 1);
  return [...count].filter(([, n]) => n > 1).map(([t]) => t);
}
