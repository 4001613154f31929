/**
 * The Okta API the simulator answers: routes (path → bucket, handlers) and what each
 * handler does to the org's state, including what the org refuses (users the token may
 * not change, users whose status freezes their factors, users still being activated,
 * factor types the Multifactor policy refuses). Handlers are synchronous and return an
 * answer or throw SimHttpError; the HTTP pipeline (server.ts) adds limits, faults and headers.
 */
import type { BucketName } from './rate-limits.js';
import { SlidingLimit } from './rate-limits.js';
import { errors, SimHttpError } from './okta-errors.js';
import type { Directory, SimUser } from './directory.js';
import { FactorStore, type ActivateCall, type Factor } from './factors.js';
import { ENROLLABLE, type FactorType } from './factor-types.js';
import { Render } from './dialects.js';
import { parseFilter, type SystemLog } from './system-log.js';
import type { SimulatorOptions } from './options.js';
import type { Operation } from './strict-bodies.js';
import { FACTOR_FROZEN_STATUSES } from './traits.js';
import { iso } from './clock.js';

export interface ApiRequest {
  method: string;
  params: string[];
  query: URLSearchParams;
  body: unknown;
  now: number;
}

export interface ApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
  /** Binary answer (QR code PNG). */
  raw?: { contentType: string; data: Buffer };
}

export type Handler = (req: ApiRequest) => ApiAnswer;

export interface RouteMatch {
  /** e.g. `POST /api/v1/users/{userId}/factors`; the stats' byRoute key. */
  key: string;
  bucket: BucketName;
  handler?: Handler;
  /** Methods the path accepts (for 405). */
  allow: string[];
  params: string[];
  /** OAuth scope the endpoint requires (the spec's `security`): reads need *.read, changes okta.users.manage. */
  scope: string;
  /** The operation, for strict body checks (operations that take a body). */
  operation?: Operation;
  /** The factor a factor-level operation names, when it exists (strict checks depend on its type). */
  factorType?: string;
}

/** Okta Verify's bundle: what a push enroll adds in Identity Engine when the user lacks it. */
const BUNDLE: FactorType[] = ['token:software:totp', 'signed_nonce'];
const PHONE = /^\+[0-9][0-9 ()-]{1,19}$/;
// 1x1 transparent PNG: the QR code's stand-in.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v.trim() : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw errors.badQuery(`${name}: expected an integer >= 1, got "${raw}"`);
  return Math.min(Number(raw), max);
}

function timeParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw errors.badQuery(`${name}: expected an ISO 8601 timestamp, got "${raw}"`);
  return ms;
}

/** The type of the factor a path names, when it exists (for strict body checks). */
function factorTypeOf(store: FactorStore, factorId: string): { factorType?: string } {
  const f = store.get(factorId);
  return f ? { factorType: f.factorType } : {};
}

/** listFactors / getFactor / users lookup: okta.users.read; enroll, activate, poll, send, delete: okta.users.manage; groups, logs: their read scopes. */
function scopeFor(method: string, bucket: BucketName): string {
  if (bucket === 'groups') return 'okta.groups.read';
  if (bucket === 'logs') return 'okta.logs.read';
  return method === 'GET' || method === 'HEAD' ? 'okta.users.read' : 'okta.users.manage';
}

export class OktaApi {
  readonly render: Render;
  private readonly attempts: SlidingLimit;
  private readonly sms: SlidingLimit;

  constructor(
    private readonly opts: SimulatorOptions,
    base: string,
    readonly directory: Directory,
    readonly store: FactorStore,
    readonly log: SystemLog,
  ) {
    this.render = new Render(opts.dialect, base, opts);
    this.attempts = new SlidingLimit(opts.activationAttemptLimit, opts.activationAttemptWindowMs);
    this.sms = new SlidingLimit(1, Math.max(1, opts.smsIntervalMs));
  }

  /** Routes `/api/v1/...` paths; undefined for paths Okta would not know. */
  match(method: string, path: string): RouteMatch | undefined {
    const s = path.split('/');
    // ['', 'api', 'v1', ...]
    if (s[1] !== 'api' || s[2] !== 'v1') return undefined;
    const p = s.slice(3).map((x) => {
      try {
        return decodeURIComponent(x);
      } catch {
        return x;
      }
    });
    const n = p.length;
    const route = (key: string, bucket: BucketName, handlers: Record<string, Handler>, params: string[], operation?: Operation): RouteMatch => ({
      key: `${method} ${key}`,
      bucket,
      handler: handlers[method],
      allow: Object.keys(handlers),
      params,
      scope: scopeFor(method, bucket),
      ...(operation && method === 'POST' ? { operation } : {}),
      ...(params[1] ? factorTypeOf(this.store, params[1]) : {}),
    });
    if (p[0] === 'users' && n >= 2 && p[1]) {
      const u = p[1];
      if (n === 2) return route('/api/v1/users/{idOrLogin}', 'users', { GET: this.getUser }, [u]);
      if (p[2] !== 'factors') return undefined;
      if (n === 3) return route('/api/v1/users/{userId}/factors', 'factors', { GET: this.listFactors, POST: this.enroll }, [u], 'enrollFactor');
      const f = p[3]!;
      const base = '/api/v1/users/{userId}/factors/{factorId}';
      if (n === 4) return route(base, 'factors', { GET: this.getFactor, DELETE: this.deleteFactor }, [u, f]);
      if (n === 6 && p[4] === 'lifecycle' && p[5] === 'activate') return route(`${base}/lifecycle/activate`, 'factors', { POST: this.activate }, [u, f], 'activateFactor');
      if (this.opts.dialect === 'okta' && n === 7 && p[4] === 'lifecycle' && p[5] === 'activate') {
        if (p[6] === 'poll') return route(`${base}/lifecycle/activate/poll`, 'factors', { POST: this.poll }, [u, f], 'pollActivation');
        if (p[6] === 'email' || p[6] === 'sms') {
          const channel = p[6];
          const op = channel === 'email' ? 'sendActivationEmail' : 'sendActivationSms';
          return route(`${base}/lifecycle/activate/${channel}`, 'factors', { POST: (r) => this.send(r, channel) }, [u, f], op);
        }
      }
      if (n === 6 && p[4] === 'qr') return route(`${base}/qr/{token}`, 'factors', { GET: this.qr }, [u, f, p[5]!]);
      return undefined;
    }
    if (p[0] === 'groups') {
      if (n === 1) return route('/api/v1/groups', 'groups', { GET: this.listGroups }, []);
      if (n === 3 && p[2] === 'users') return route('/api/v1/groups/{groupId}/users', 'groups', { GET: this.groupMembers }, [p[1]!]);
      return undefined;
    }
    if (p[0] === 'logs' && n === 1) return route('/api/v1/logs', 'logs', { GET: this.logs }, []);
    return undefined;
  }

  // ---- helpers -----------------------------------------------------------------------

  private user(id: string): SimUser {
    const u = this.directory.get(id);
    if (!u) throw errors.userNotFound(id);
    return u;
  }

  private factorOf(userId: string, factorId: string): Factor {
    this.user(userId);
    const f = this.store.get(factorId);
    if (!f || f.userId !== userId) throw errors.factorNotFound(factorId);
    return f;
  }

  private enrollError(...causes: string[]): SimHttpError {
    return new SimHttpError(400, 'E0000001', 'Api validation failed: factorEnrollRequest', causes);
  }

  /**
   * What the org checks before changing a user's factors: the token may change this user
   * (403 E0000006), the user's status allows it (403 E0000038), and for an enroll, the
   * user is no longer being activated (409 E0000112).
   */
  private mayChangeFactors(user: SimUser, now: number, enroll = false): void {
    if (user.traits.protected) throw errors.forbidden();
    if (FACTOR_FROZEN_STATUSES.includes(user.status)) throw errors.userStatus();
    const p = user.traits.provisioningMs;
    if (enroll && p !== undefined && now < this.store.startedAt + p) throw errors.userActivating();
  }

  /** lifecycle/activate on a push answers the ACTIVE factor (200) when it may be a poll link, else 400 as today. */
  private get activateAnswersActive(): boolean {
    return this.opts.pollLink === 'activate' || this.opts.restartShape === 'activation';
  }

  // ---- users, groups, logs --------------------------------------------------------------

  private getUser: Handler = (r) => {
    const u = this.directory.find(r.params[0]!);
    if (!u) throw errors.userNotFound(r.params[0]!);
    return { status: 200, body: this.render.user(u) };
  };

  private page<T>(items: T[], idOf: (t: T) => string, r: ApiRequest, path: string, dflt: number, max: number, extra: Record<string, string> = {}): ApiAnswer {
    const limit = intParam(r.query, 'limit', dflt, max);
    const after = r.query.get('after');
    let start = 0;
    if (after) {
      const i = items.findIndex((t) => idOf(t) === after);
      if (i < 0) throw errors.badQuery(`after: expected a cursor taken from a Link header, got "${after}"`);
      start = i + 1;
    }
    const slice = items.slice(start, start + limit);
    const qs = (more: Record<string, string>) => new URLSearchParams({ ...extra, ...more, limit: String(limit) }).toString();
    const links = [`<${this.render.base}${path}?${qs(after ? { after } : {})}>; rel="self"`];
    if (start + limit < items.length && slice.length) links.push(`<${this.render.base}${path}?${qs({ after: idOf(slice[slice.length - 1]!) })}>; rel="next"`);
    return { status: 200, body: slice, headers: { Link: links } };
  }

  private listGroups: Handler = (r) => {
    const q = (r.query.get('q') ?? '').toLowerCase();
    const groups = [...this.directory.groups.values()].filter((g) => g.name.toLowerCase().startsWith(q));
    const answer = this.page(groups, (g) => g.id, r, '/api/v1/groups', 10000, 10000, q ? { q } : {});
    answer.body = (answer.body as typeof groups).map((g) => this.render.group(g));
    return answer;
  };

  private groupMembers: Handler = (r) => {
    const g = this.directory.groups.get(r.params[0]!);
    if (!g) throw errors.groupNotFound(r.params[0]!);
    const members = g.members.map((id) => this.directory.get(id)!).filter(Boolean);
    const answer = this.page(members, (u) => u.id, r, `/api/v1/groups/${encodeURIComponent(g.id)}/users`, 200, 200);
    answer.body = (answer.body as SimUser[]).map((u) => this.render.user(u));
    return answer;
  };

  private logs: Handler = (r) => {
    const since = timeParam(r.query, 'since');
    const until = timeParam(r.query, 'until');
    const limit = intParam(r.query, 'limit', 100, 1000);
    const afterRaw = r.query.get('after');
    if (afterRaw !== null && !/^\d+$/.test(afterRaw)) throw errors.badQuery(`after: expected a cursor taken from a Link header, got "${afterRaw}"`);
    const filterText = r.query.get('filter');
    const filter = filterText ? parseFilter(filterText) : undefined;
    const page = this.log.query({
      limit,
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(filter ? { filter } : {}),
      ...(afterRaw !== null ? { after: Number(afterRaw) } : {}),
    });
    const keep: Record<string, string> = {};
    for (const k of ['since', 'until', 'filter', 'sortOrder', 'q']) {
      const v = r.query.get(k);
      if (v !== null) keep[k] = v;
    }
    const url = (more: Record<string, string>) => `${this.render.base}/api/v1/logs?${new URLSearchParams({ ...keep, limit: String(limit), ...more }).toString()}`;
    const links = [`<${url(afterRaw !== null ? { after: afterRaw } : {})}>; rel="self"`];
    if (page.nextAfter !== undefined) links.push(`<${url({ after: String(page.nextAfter) })}>; rel="next"`);
    return { status: 200, body: page.events, headers: { Link: links } };
  };

  // ---- factors ---------------------------------------------------------------------------

  private listFactors: Handler = (r) => {
    this.user(r.params[0]!);
    const body = this.store.ofUser(r.params[0]!).map((f) => this.render.factor(f, this.store.result(f, r.now)));
    return { status: 200, body };
  };

  private getFactor: Handler = (r) => {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    return { status: 200, body: this.render.factor(f, this.store.result(f, r.now)) };
  };

  private deleteFactor: Handler = (r) => {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    this.mayChangeFactors(this.user(f.userId), r.now);
    this.store.unenroll(f, this.opts.oieBundle);
    return { status: 204 };
  };

  private enroll: Handler = (r) => {
    const user = this.user(r.params[0]!);
    if (!r.body || typeof r.body !== 'object' || Array.isArray(r.body)) throw errors.badBody('Expected a JSON object describing the factor.');
    const body = r.body as Record<string, unknown>;
    const factorType = str(body.factorType);
    if (!factorType) throw this.enrollError('factorType: The field cannot be left blank.');
    if (!(ENROLLABLE as string[]).includes(factorType)) {
      throw this.enrollError(`factorType: expected one of ${ENROLLABLE.join(', ')}, got "${factorType}".`);
    }
    const type = factorType as FactorType;
    this.mayChangeFactors(user, r.now, true);
    const refused = this.opts.refuseFactorTypes;
    if (refused.includes(type)) throw errors.policyRefused();
    const seedPush = this.opts.dialect === 'seed' && type === 'push';
    let provider = str(body.provider) || 'OKTA';
    if (seedPush) {
      if (provider.toLowerCase() === 'duo') provider = 'duo';
      else if (provider.toUpperCase() === 'OKTA') provider = 'OKTA';
      else throw this.enrollError(`provider: expected "duo" or "OKTA" for factorType push, got "${provider}".`);
    } else if (provider !== 'OKTA') {
      throw this.enrollError(`provider: expected "OKTA" for factorType ${type}, got "${provider}".`);
    }
    const reqProfile = obj(body.profile);
    let profile: Record<string, unknown> = {};
    if (type === 'push') {
      const deviceName = str(reqProfile.deviceName);
      if (seedPush && deviceName) profile = { deviceName };
    } else if (type === 'sms' || type === 'call') {
      const phone = str(reqProfile.phoneNumber);
      if (!phone || !PHONE.test(phone)) throw this.enrollError(`profile.phoneNumber: expected a phone number such as +1-555-415-1337, got ${phone === undefined ? 'nothing' : `"${phone}"`}.`);
      profile = { phoneNumber: phone };
      const ext = str(reqProfile.phoneExtension);
      if (type === 'call' && ext) profile.phoneExtension = ext;
    } else if (type === 'email') {
      profile = { email: str(reqProfile.email) || user.email };
    } else {
      profile = { credentialId: user.login };
    }

    const existing = this.store.ofUser(user.id).filter((f) => f.factorType === type);
    if (existing.length && this.opts.onDuplicate !== 'allow') {
      if (this.opts.onDuplicate === 'reject' || existing.some((f) => f.status === 'ACTIVE')) {
        throw this.enrollError('A factor of this type is already set up.');
      }
      for (const f of existing) this.store.remove(f);
    }

    const f = this.store.create(user, type, provider, profile, r.now);
    if (r.query.get('activate') === 'true' && (type === 'sms' || type === 'call' || type === 'email')) this.store.activate(f, r.now);
    if (this.opts.oieBundle && type === 'push' && provider === 'OKTA') {
      const held = new Set(this.store.ofUser(user.id).map((x) => x.factorType));
      for (const t of BUNDLE) if (!held.has(t) && !refused.includes(t)) this.store.addBundled(user, f, t, r.now);
    }
    const answer = this.render.factor(f, this.store.result(f, r.now), true);
    if (seedPush) return { status: 301, body: answer, headers: { Location: this.render.factorHref(f) } };
    return { status: 200, body: answer };
  };

  private activate: Handler = (r) => {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    this.mayChangeFactors(this.user(f.userId), r.now);
    const record = (result: ActivateCall['result']) =>
      this.store.activateCalls.push({ userId: f.userId, factorId: f.id, at: iso(r.now), atMs: r.now, attempt: f.attempt?.n ?? 0, result });
    if (!this.attempts.tryTake(f.id, r.now)) {
      record('rate-limited');
      throw errors.rateLimited();
    }
    if (f.status === 'ACTIVE') {
      record('already-active');
      if (f.factorType === 'push' && this.activateAnswersActive) return { status: 200, body: this.render.activation(f, undefined) };
      throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['The factor is already active.']);
    }
    if (f.factorType === 'push') {
      let result = this.store.result(f, r.now);
      if (result === 'TIMEOUT') {
        this.store.startAttempt(f, this.user(f.userId), r.now);
        result = 'WAITING';
        record('restarted');
      } else {
        // A valid activation is not restarted: the same expiresAt, and the call still counts toward the limit.
        record(result === 'CANCELLED' ? 'cancelled' : result === 'ERROR' ? 'error' : 'waiting');
      }
      const body = this.opts.restartShape === 'activation' ? this.render.activation(f, result) : this.render.factor(f, result, true);
      return { status: 200, body };
    }
    if (f.factorType === 'signed_nonce') {
      record('invalid');
      throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['Okta FastPass (signed_nonce) cannot be activated through the Factors API.']);
    }
    const passCode = str(obj(r.body).passCode);
    if (!passCode) {
      record('invalid');
      throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['passCode: The field cannot be left blank.']);
    }
    this.store.activate(f, r.now);
    record('activated');
    return { status: 200, body: this.render.factor(f, undefined) };
  };

  private poll: Handler = (r) => {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    if (f.factorType !== 'push') throw errors.pathNotFound(`/api/v1/users/${f.userId}/factors/${f.id}/lifecycle/activate/poll`);
    return { status: 200, body: this.render.poll(f, this.store.result(f, r.now)) };
  };

  private send(r: ApiRequest, channel: 'email' | 'sms'): ApiAnswer {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    const user = this.user(f.userId);
    if (f.factorType !== 'push') throw errors.pathNotFound(`/api/v1/users/${f.userId}/factors/${f.id}/lifecycle/activate/${channel}`);
    this.mayChangeFactors(user, r.now);
    if (f.status === 'ACTIVE') throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['The factor is already active.']);
    const result = this.store.result(f, r.now);
    if (result === 'TIMEOUT') throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['The activation has expired; restart it with the activate link.']);
    if (result !== 'WAITING') throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', [`The activation ended (${result}).`]);
    let to: string | undefined;
    if (channel === 'email') {
      to = user.email;
    } else {
      to = str(obj(obj(r.body).profile).phoneNumber) || user.phone;
      if (!to) throw new SimHttpError(400, 'E0000001', 'Api validation failed: factor', ['profile.phoneNumber: expected a phone number for an SMS activation link, got nothing.']);
      if (this.opts.smsIntervalMs > 0 && !this.sms.tryTake(to, r.now)) {
        throw errors.smsTooSoon(Math.ceil(this.sms.waitMs(to, r.now) / 1000));
      }
    }
    this.store.deliveries.push({ userId: f.userId, factorId: f.id, channel, at: iso(r.now), atMs: r.now, to });
    this.store.delivered(f, r.now);
    return { status: 200, body: this.render.factor(f, result, true) };
  }

  private qr: Handler = (r) => {
    const f = this.factorOf(r.params[0]!, r.params[1]!);
    const token = r.params[2]!;
    const live =
      (f.attempt && f.attempt.qrToken === token && this.store.result(f, r.now) === 'WAITING') ||
      (f.sharedSecret !== undefined && token === `00${f.sharedSecret}` && f.status === 'PENDING_ACTIVATION');
    if (!live) throw errors.pathNotFound(`/api/v1/users/${f.userId}/factors/${f.id}/qr/…`);
    return { status: 200, raw: { contentType: 'image/png', data: PNG } };
  };
}
