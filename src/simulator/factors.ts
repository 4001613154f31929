/**
 * The org's factors and their activation lifecycle, without timers: every push
 * activation attempt knows when it expires and how its user behaves (scans after a
 * delay, after a delivery, never, cancels, errs), and a timeline of what users do on
 * their own (scans, another factor set up while the push waits, sign-ins) is applied by
 * settle(now), in time order, before each request. An attempt past its expiresAt
 * without a scan reads as TIMEOUT (listed EXPIRED in today's list shape).
 */
import { hashUnit, between, oktaId, alphanumeric, type Random } from './random.js';
import type { ActivationStep, SimUser } from './directory.js';
import type { SystemLog } from './system-log.js';
import { idPrefix, defaultProvider, OKTA_VERIFY_TYPES, type FactorType } from './factor-types.js';

export type { FactorType } from './factor-types.js';

/** The Push Factor Activation object's factorResult. */
export type ActivationResult = 'WAITING' | 'TIMEOUT' | 'CANCELLED' | 'ERROR';

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
  /** Stored status; a PENDING_ACTIVATION push past its expiresAt reads as expired (see result). */
  status: 'PENDING_ACTIVATION' | 'ACTIVE';
  created: number;
  lastUpdated: number;
  activated?: number;
  profile: Record<string, unknown>;
  /** push only */
  attempt?: Attempt;
  /** token:software:totp only */
  sharedSecret?: string;
  /**
   * Who created it: an enroll request, the Okta Verify bundle of a push enroll, the user
   * on their own (traits), or the users file (`factors`: held before the simulator started).
   */
  origin: 'enroll' | 'bundle' | 'user' | 'existing';
  /** origin bundle: the push factor whose enroll created it (it activates when the user's Okta Verify push is scanned). */
  bundleOf?: string;
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
  result: 'restarted' | 'waiting' | 'cancelled' | 'error' | 'activated' | 'already-active' | 'rate-limited' | 'invalid';
}

type Plan =
  | { at: number; kind: 'scan'; factorId: string; attempt: number }
  | { at: number; kind: 'other-factor'; factorId: string; attempt: number; factorType: FactorType }
  | { at: number; kind: 'sign-in'; userId: string };
type Due = Plan & { seq: number };

/** Min-heap of what users will do, ordered by time (then by when it was planned). */
class Timeline {
  private readonly items: Due[] = [];
  private seq = 0;

  push(e: Plan): void {
    const a = this.items;
    a.push({ ...e, seq: ++this.seq });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  peek(): Due | undefined {
    return this.items[0];
  }

  pop(): Due | undefined {
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
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
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

function before(x: Due, y: Due): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

export interface FactorStoreOptions {
  seed: number;
  activateRatio: number;
  activateAfterMs: [number, number];
  activationTtlMs: number;
  /** When the simulator started (trait times count from it). */
  startedAt: number;
}

const DEVICE_PROFILE = { deviceType: 'SmartPhone_IPhone', name: 'Simulated iPhone', platform: 'IOS', version: '9.0' };

export class FactorStore {
  private readonly byId = new Map<string, Factor>();
  private readonly byUser = new Map<string, Factor[]>();
  private readonly timeline = new Timeline();
  readonly deliveries: Delivery[] = [];
  readonly activateCalls: ActivateCall[] = [];
  enrollCalls = 0;

  constructor(
    private readonly opts: FactorStoreOptions,
    private readonly random: Random,
    private readonly users: (id: string) => SimUser | undefined,
    private readonly log: SystemLog,
  ) {}

  get startedAt(): number {
    return this.opts.startedAt;
  }

  get(id: string): Factor | undefined {
    return this.byId.get(id);
  }

  ofUser(userId: string): Factor[] {
    return this.byUser.get(userId) ?? [];
  }

  all(): IterableIterator<Factor> {
    return this.byId.values();
  }

  /** The push activation's factorResult at `now`; undefined for an active factor or one without an activation. */
  result(f: Factor, now: number): ActivationResult | undefined {
    const a = f.attempt;
    if (f.status !== 'PENDING_ACTIVATION' || !a) return undefined;
    if (now >= a.expiresAt) return 'TIMEOUT';
    if ((a.step.kind === 'cancel' || a.step.kind === 'error') && now >= a.startedAt + a.step.ms) return a.step.kind === 'cancel' ? 'CANCELLED' : 'ERROR';
    return 'WAITING';
  }

  /** A push factor's current attempt is over without a scan. */
  isExpired(f: Factor, now: number): boolean {
    return this.result(f, now) === 'TIMEOUT';
  }

  /**
   * The org as the simulator starts: the factors users already hold (ACTIVE, no events:
   * they were activated before), and their sign-ins planned (the `sign-in:` trait).
   */
  populate(users: Iterable<SimUser>): void {
    const t = this.opts.startedAt;
    for (const u of users) {
      for (const type of u.existingFactors) {
        const f = this.add(u, type, defaultProvider(type), this.profileFor(u, type), t, 'existing');
        f.status = 'ACTIVE';
        f.activated = t;
      }
      for (const ms of u.traits.signIns) this.timeline.push({ at: t + ms, kind: 'sign-in', userId: u.id });
    }
  }

  /** A factor an enroll request asked for (push: its first activation attempt starts). */
  create(user: SimUser, factorType: FactorType, provider: string, profile: Record<string, unknown>, now: number): Factor {
    const f = this.add(user, factorType, provider, profile, now, 'enroll');
    this.enrollCalls++;
    if (factorType === 'push') this.startAttempt(f, user, now);
    return f;
  }

  /** Identity Engine's Okta Verify bundle: the types the push enroll adds, pending until the push is scanned. */
  addBundled(user: SimUser, push: Factor, factorType: FactorType, now: number): Factor {
    const f = this.add(user, factorType, 'OKTA', this.profileFor(user, factorType), now, 'bundle');
    f.bundleOf = push.id;
    return f;
  }

  private add(user: SimUser, factorType: FactorType, provider: string, profile: Record<string, unknown>, now: number, origin: Factor['origin']): Factor {
    const f: Factor = {
      id: oktaId(this.random, idPrefix(factorType)),
      userId: user.id,
      factorType,
      provider,
      status: 'PENDING_ACTIVATION',
      created: now,
      lastUpdated: now,
      profile,
      origin,
    };
    if (factorType === 'token:software:totp') f.sharedSecret = alphanumeric(this.random, 16).toUpperCase().replace(/[^A-Z2-7]/g, 'A');
    this.byId.set(f.id, f);
    const list = this.byUser.get(user.id);
    if (list) list.push(f);
    else this.byUser.set(user.id, [f]);
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

  /**
   * Unenrolls a factor. With the Okta Verify bundle, a push (provider OKTA) or a
   * signed_nonce takes every other Okta Verify factor of the user with it. Returns the removed ones.
   */
  unenroll(f: Factor, oktaVerifyTogether: boolean): Factor[] {
    const isVerify = (x: Factor) => OKTA_VERIFY_TYPES.includes(x.factorType) && (x.factorType !== 'push' || x.provider === 'OKTA');
    const cascade = oktaVerifyTogether && isVerify(f) && f.factorType !== 'token:software:totp';
    const gone = cascade ? this.ofUser(f.userId).filter(isVerify) : [f];
    for (const x of gone) this.remove(x);
    return gone;
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
    for (const o of user.traits.otherFactors) {
      this.timeline.push({ at: now + o.ms, kind: 'other-factor', factorId: f.id, attempt: n, factorType: o.factorType });
    }
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
    this.timeline.push({ at, kind: 'scan', factorId: f.id, attempt: a.n });
  }

  private stepFor(user: SimUser, n: number): ActivationStep {
    const plan = user.activation;
    if (plan && plan.length) return plan[Math.min(n, plan.length) - 1]!;
    const key = `${this.opts.seed}:${user.id}:${n}`;
    if (hashUnit(`scan:${key}`) >= this.opts.activateRatio) return { kind: 'never' };
    const [min, max] = this.opts.activateAfterMs;
    return { kind: 'delay', ms: between(hashUnit(`after:${key}`), min, max) };
  }

  /** Applies everything users do by `now`, in time order (each activation and sign-in a System Log event). */
  settle(now: number): void {
    for (let top = this.timeline.peek(); top && top.at <= now; top = this.timeline.peek()) {
      this.timeline.pop();
      if (top.kind === 'sign-in') {
        const user = this.users(top.userId);
        if (user) this.log.sessionStarted(user, top.at);
        continue;
      }
      const f = this.byId.get(top.factorId);
      const a = f?.attempt;
      if (!f || !a || a.n !== top.attempt || this.result(f, top.at) !== 'WAITING') continue;
      if (top.kind === 'scan') {
        if (a.scanAt === top.at) this.scanned(f, top.at);
      } else {
        const user = this.users(f.userId);
        if (user) this.userSetsUp(user, top.factorType, top.at);
      }
    }
  }

  /**
   * The user scanned the push's QR code: the push becomes ACTIVE, so do the factors its
   * enroll bundled, and with the `fastpass` trait Okta FastPass (signed_nonce) too, its
   * event published within a few ms of the push's (sometimes before it).
   */
  private scanned(push: Factor, at: number): void {
    this.activate(push, at);
    const user = this.users(push.userId);
    const jitter = between(hashUnit(`fastpass:${this.opts.seed}:${push.id}:${push.attempt?.n ?? 0}`), -3, 5);
    for (const f of this.ofUser(push.userId)) {
      // Okta Verify's bundle completes with its push (also one whose enroll replaced the push that bundled it).
      if (f.origin === 'bundle' && f.status === 'PENDING_ACTIVATION') this.activate(f, f.factorType === 'signed_nonce' ? at + jitter : at);
    }
    if (user?.traits.fastpass) this.userSetsUp(user, 'signed_nonce', at + jitter);
  }

  /** The user sets up a factor on their own (sign-in enrollment, a second device): ACTIVE, with its event. */
  private userSetsUp(user: SimUser, factorType: FactorType, at: number): void {
    const same = this.ofUser(user.id).filter((f) => f.factorType === factorType);
    if (same.some((f) => f.status === 'ACTIVE')) return;
    // A pending factor of that type is the one the user completes; a push is a second device.
    const pending = factorType === 'push' ? undefined : same[0];
    const f = pending ?? this.add(user, factorType, defaultProvider(factorType), this.profileFor(user, factorType), at, 'user');
    this.activate(f, at);
  }

  private profileFor(user: SimUser, factorType: FactorType): Record<string, unknown> {
    switch (factorType) {
      case 'sms':
      case 'call':
        return { phoneNumber: user.phone ?? '+15550000000' };
      case 'email':
        return { email: user.email };
      case 'push':
        return { credentialId: user.login, ...DEVICE_PROFILE };
      case 'signed_nonce':
        return { ...DEVICE_PROFILE };
      case 'question':
        return { question: 'favorite_art_piece', questionText: 'What is your favorite piece of art?' };
      default:
        return { credentialId: user.login };
    }
  }

  /** The factor becomes ACTIVE and the System Log says so (a phone enrollment: sms and call, as Identity Engine logs it). */
  activate(f: Factor, at: number): void {
    f.status = 'ACTIVE';
    f.activated = at;
    f.lastUpdated = at;
    const user = this.users(f.userId);
    if (f.factorType === 'push') {
      f.profile = { credentialId: user?.login ?? f.userId, ...DEVICE_PROFILE, ...pick(f.profile, 'deviceName') };
    }
    if (!user) return;
    this.log.factorActivated(user, f.id, f.factorType, at);
    if (f.factorType === 'sms') this.log.factorActivated(user, f.id, f.factorType, at, 'call');
  }

  get pendingScans(): number {
    return this.timeline.size;
  }
}

function pick(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return key in o ? { [key]: o[key] } : {};
}
