/**
 * The org's factors and their activation lifecycle, without timers: every push
 * activation attempt knows when it expires and when (if ever) its user scans, and
 * settle(now) applies the scans that are due, in time order, before each request.
 * An attempt that reached its expiresAt without a scan reads as EXPIRED / TIMEOUT.
 */
import { hashUnit, between, oktaId, alphanumeric, type Random } from './random.js';
import type { ActivationStep, SimUser } from './directory.js';
import type { SystemLog } from './system-log.js';

export type FactorType = 'push' | 'sms' | 'call' | 'email' | 'token:software:totp';

export const ID_PREFIX: Record<FactorType, string> = {
  push: 'opf',
  sms: 'mbl',
  call: 'clf',
  email: 'emf',
  'token:software:totp': 'ost',
};

export interface Attempt {
  n: number;
  startedAt: number;
  expiresAt: number;
  /** When the user scans (push); undefined: not (yet) scheduled. */
  scanAt?: number;
  step: ActivationStep;
  /** Secret part of the QR code / barcode URL. */
  qrToken: string;
}

export interface Factor {
  id: string;
  userId: string;
  factorType: FactorType;
  /** As the request named it (OKTA, or duo in the seed dialect). */
  provider: string;
  /** Stored status; a PENDING_ACTIVATION push past its expiresAt reads as expired (see isExpired). */
  status: 'PENDING_ACTIVATION' | 'ACTIVE';
  created: number;
  lastUpdated: number;
  activated?: number;
  profile: Record<string, unknown>;
  /** push only */
  attempt?: Attempt;
  /** token:software:totp only */
  sharedSecret?: string;
}

export interface Delivery {
  userId: string;
  factorId: string;
  channel: 'email' | 'sms';
  at: string;
  atMs: number;
  to?: string;
}

export interface ActivateCall {
  userId: string;
  factorId: string;
  at: string;
  atMs: number;
  /** The attempt number current after the call (0 for factors without attempts). */
  attempt: number;
  result: 'restarted' | 'waiting' | 'activated' | 'already-active' | 'rate-limited' | 'invalid';
}

interface ScanEntry {
  at: number;
  factorId: string;
  attempt: number;
}

/** Min-heap of scheduled scans, ordered by time. */
class ScanHeap {
  private readonly items: ScanEntry[] = [];

  push(e: ScanEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  peek(): ScanEntry | undefined {
    return this.items[0];
  }

  pop(): ScanEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]!.at < a[m]!.at) m = l;
        if (r < a.length && a[r]!.at < a[m]!.at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }

  get size(): number {
    return this.items.length;
  }
}

export interface FactorStoreOptions {
  seed: number;
  activateRatio: number;
  activateAfterMs: [number, number];
  activationTtlMs: number;
}

export class FactorStore {
  private readonly byId = new Map<string, Factor>();
  private readonly byUser = new Map<string, Factor[]>();
  private readonly scans = new ScanHeap();
  readonly deliveries: Delivery[] = [];
  readonly activateCalls: ActivateCall[] = [];
  enrollCalls = 0;

  constructor(
    private readonly opts: FactorStoreOptions,
    private readonly random: Random,
    private readonly users: (id: string) => SimUser | undefined,
    private readonly log: SystemLog,
  ) {}

  get(id: string): Factor | undefined {
    return this.byId.get(id);
  }

  ofUser(userId: string): Factor[] {
    return this.byUser.get(userId) ?? [];
  }

  all(): IterableIterator<Factor> {
    return this.byId.values();
  }

  /** A push factor's current attempt is over without a scan. */
  isExpired(f: Factor, now: number): boolean {
    return f.status === 'PENDING_ACTIVATION' && f.attempt !== undefined && now >= f.attempt.expiresAt;
  }

  create(user: SimUser, factorType: FactorType, provider: string, profile: Record<string, unknown>, now: number): Factor {
    const f: Factor = {
      id: oktaId(this.random, ID_PREFIX[factorType]),
      userId: user.id,
      factorType,
      provider,
      status: 'PENDING_ACTIVATION',
      created: now,
      lastUpdated: now,
      profile,
    };
    if (factorType === 'token:software:totp') f.sharedSecret = alphanumeric(this.random, 16).toUpperCase().replace(/[^A-Z2-7]/g, 'A');
    this.byId.set(f.id, f);
    const list = this.byUser.get(user.id);
    if (list) list.push(f);
    else this.byUser.set(user.id, [f]);
    this.enrollCalls++;
    if (factorType === 'push') this.startAttempt(f, user, now);
    return f;
  }

  remove(f: Factor): void {
    this.byId.delete(f.id);
    const list = this.byUser.get(f.userId);
    if (!list) return;
    const rest = list.filter((x) => x.id !== f.id);
    if (rest.length) this.byUser.set(f.userId, rest);
    else this.byUser.delete(f.userId);
  }

  /** Starts (or restarts) a push activation: new expiresAt, new QR code, the user's next behaviour. */
  startAttempt(f: Factor, user: SimUser, now: number): Attempt {
    const n = (f.attempt?.n ?? 0) + 1;
    const step = this.stepFor(user, n);
    const attempt: Attempt = {
      n,
      startedAt: now,
      expiresAt: now + this.opts.activationTtlMs,
      step,
      qrToken: `00${alphanumeric(this.random, 40)}`,
    };
    f.attempt = attempt;
    f.lastUpdated = now;
    if (step.kind === 'delay') this.schedule(f, now + step.ms);
    return attempt;
  }

  /** An activation link was sent: an `after-delivery:<ms>` user scans <ms> later. */
  delivered(f: Factor, now: number): void {
    const a = f.attempt;
    if (!a || a.step.kind !== 'afterDelivery') return;
    const at = now + a.step.ms;
    if (a.scanAt === undefined || at < a.scanAt) this.schedule(f, at);
  }

  private schedule(f: Factor, at: number): void {
    const a = f.attempt!;
    a.scanAt = at;
    this.scans.push({ at, factorId: f.id, attempt: a.n });
  }

  private stepFor(user: SimUser, n: number): ActivationStep {
    const plan = user.activation;
    if (plan && plan.length) return plan[Math.min(n, plan.length) - 1]!;
    const key = `${this.opts.seed}:${user.id}:${n}`;
    if (hashUnit(`scan:${key}`) >= this.opts.activateRatio) return { kind: 'never' };
    const [min, max] = this.opts.activateAfterMs;
    return { kind: 'delay', ms: between(hashUnit(`after:${key}`), min, max) };
  }

  /** Applies every scan due by `now`, in time order (each one a System Log event). */
  settle(now: number): void {
    for (let top = this.scans.peek(); top && top.at <= now; top = this.scans.peek()) {
      this.scans.pop();
      const f = this.byId.get(top.factorId);
      const a = f?.attempt;
      if (!f || !a || a.n !== top.attempt || a.scanAt !== top.at || f.status !== 'PENDING_ACTIVATION') continue;
      if (top.at >= a.expiresAt) continue;
      this.activate(f, top.at);
    }
  }

  activate(f: Factor, at: number): void {
    f.status = 'ACTIVE';
    f.activated = at;
    f.lastUpdated = at;
    const user = this.users(f.userId);
    if (f.factorType === 'push') {
      f.profile = {
        credentialId: user?.login ?? f.userId,
        deviceType: 'SmartPhone_IPhone',
        name: 'Simulated iPhone',
        platform: 'IOS',
        version: '9.0',
        ...pick(f.profile, 'deviceName'),
      };
    }
    if (user) this.log.factorActivated(user, f.id, f.factorType, at);
  }

  get pendingScans(): number {
    return this.scans.size;
  }
}

function pick(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return key in o ? { [key]: o[key] } : {};
}
