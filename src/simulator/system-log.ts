/**
 * The System Log (`GET /api/v1/logs`): events in insertion order, a cursor (`after`)
 * that is the sequence number of the last event examined, and Okta's two modes:
 * without `until` a query is a polling query whose answer always carries a `next`
 * link (even when empty); with `until` `next` appears only when more events remain.
 * `filter` supports `<field> eq "<value>"` joined by `and` / `or` and parentheses.
 * Events: user.mfa.factor.activate (any factor, with or without debugData.factor and
 * an AuthenticatorEnrollment target, as orgs differ) and user.session.start.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { iso } from './clock.js';
import { errors } from './okta-errors.js';
import type { SimUser } from './directory.js';
import { authenticatorName, type FactorType } from './factor-types.js';
import type { LogTargets } from './options.js';

export interface LogTarget {
  id: string;
  type: string;
  alternateId: string;
  displayName: string;
  detailEntry: null;
}

export interface LogEvent {
  uuid: string;
  published: string;
  eventType: string;
  version: string;
  severity: 'INFO' | 'WARN' | 'ERROR' | 'DEBUG';
  legacyEventType: string;
  displayMessage: string;
  actor: LogTarget;
  client: null;
  outcome: { result: string; reason: null };
  target: LogTarget[];
  transaction: { type: string; id: string; detail: Record<string, never> };
  debugContext: { debugData: Record<string, string> };
  authenticationContext: { authenticationStep: number; externalSessionId: string };
}

interface Stored {
  seq: number;
  publishedMs: number;
  event: LogEvent;
}

export interface LogQuery {
  since?: number;
  until?: number;
  filter?: Filter;
  limit: number;
  after?: number;
}

export interface LogPage {
  events: LogEvent[];
  /** Cursor for the next page, or undefined when there is no next page. */
  nextAfter?: number;
}

export interface SystemLogOptions {
  /** Activation events carry debugContext.debugData.factor. */
  debugData: boolean;
  targets: LogTargets;
}

function userTarget(user: SimUser): LogTarget {
  return { id: user.id, type: 'User', alternateId: user.login, displayName: `${user.firstName} ${user.lastName}`, detailEntry: null };
}

/** Okta's transaction ids: 27 URL-safe characters, one per request that caused the event. */
function transactionId(): string {
  return randomBytes(20).toString('base64url').slice(0, 27);
}

export class SystemLog {
  private readonly events: Stored[] = [];
  private seq = 0;

  constructor(private readonly opts: SystemLogOptions = { debugData: true, targets: 'user+enrollment' }) {}

  /**
   * The user activated a factor (`debugType`: the factor as debugData names it, sms and
   * call for the two events of one phone enrollment).
   */
  factorActivated(user: SimUser, factorId: string, factorType: FactorType, at: number, debugType: string = factorType): LogEvent {
    const actor = userTarget(user);
    const target = [{ ...actor }];
    if (this.opts.targets === 'user+enrollment') {
      target.push({ id: factorId, type: 'AuthenticatorEnrollment', alternateId: 'unknown', displayName: authenticatorName(factorType), detailEntry: null });
    }
    return this.add(at, {
      eventType: 'user.mfa.factor.activate',
      legacyEventType: 'core.user.factor.activate',
      displayMessage: 'Activate factor or authenticator',
      actor,
      target,
      debugData: this.opts.debugData ? { factor: debugType } : {},
    });
  }

  /** The user signed in to Okta. */
  sessionStarted(user: SimUser, at: number): LogEvent {
    const actor = userTarget(user);
    return this.add(at, {
      eventType: 'user.session.start',
      legacyEventType: 'core.user_auth.login_success',
      displayMessage: 'User login to Okta',
      actor,
      target: [{ ...actor }],
      debugData: { requestUri: '/idp/idx/identify' },
    });
  }

  private add(at: number, e: Pick<LogEvent, 'eventType' | 'legacyEventType' | 'displayMessage' | 'actor' | 'target'> & { debugData: Record<string, string> }): LogEvent {
    const event: LogEvent = {
      uuid: randomUUID(),
      published: iso(at),
      eventType: e.eventType,
      version: '0',
      severity: 'INFO',
      legacyEventType: e.legacyEventType,
      displayMessage: e.displayMessage,
      actor: e.actor,
      client: null,
      outcome: { result: 'SUCCESS', reason: null },
      target: e.target,
      transaction: { type: 'WEB', id: transactionId(), detail: {} },
      debugContext: { debugData: e.debugData },
      authenticationContext: { authenticationStep: 0, externalSessionId: 'unknown' },
    };
    this.events.push({ seq: ++this.seq, publishedMs: at, event });
    return event;
  }

  all(): LogEvent[] {
    return this.events.map((s) => s.event);
  }

  query(q: LogQuery): LogPage {
    const start = q.after === undefined ? 0 : this.firstIndexAfter(q.after);
    const out: LogEvent[] = [];
    let lastExamined = q.after ?? 0;
    let more = false;
    for (let i = start; i < this.events.length; i++) {
      const s = this.events[i]!;
      if (!this.matches(s, q)) {
        lastExamined = s.seq;
        continue;
      }
      if (out.length >= q.limit) {
        more = true;
        break;
      }
      out.push(s.event);
      lastExamined = s.seq;
    }
    if (q.until === undefined) return { events: out, nextAfter: lastExamined };
    return more ? { events: out, nextAfter: lastExamined } : { events: out };
  }

  private matches(s: Stored, q: LogQuery): boolean {
    if (q.since !== undefined && s.publishedMs < q.since) return false;
    if (q.until !== undefined && s.publishedMs > q.until) return false;
    return q.filter ? q.filter(s.event) : true;
  }

  private firstIndexAfter(seq: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export type Filter = (event: LogEvent) => boolean;

/** Parses `eventType eq "x" and (actor.id eq "y" or outcome.result eq "SUCCESS")`. */
export function parseFilter(text: string): Filter {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|\(|\)|[^\s()"]+/g) ?? [];
  let pos = 0;
  const fail = (expected: string): never => {
    throw errors.badQuery(`filter: expected ${expected} at token ${pos + 1}, got ${tokens[pos] === undefined ? 'the end' : `\`${tokens[pos]}\``} in \`${text}\``);
  };
  const peek = (): string | undefined => tokens[pos];
  const primary = (): Filter => {
    if (peek() === '(') {
      pos++;
      const inner = orExpr();
      if (peek() !== ')') fail('`)`');
      pos++;
      return inner;
    }
    const field = peek();
    if (!field || !/^[A-Za-z_][\w.]*$/.test(field)) return fail('a field name');
    pos++;
    if (peek()?.toLowerCase() !== 'eq') return fail('`eq`');
    pos++;
    const lit = peek();
    if (!lit || !lit.startsWith('"')) return fail('a quoted value');
    pos++;
    const value = JSON.parse(lit) as string;
    const path = field.split('.');
    return (event) => {
      let v: unknown = event;
      for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
      if (Array.isArray(v)) return v.includes(value);
      return v === value;
    };
  };
  const andExpr = (): Filter => {
    let left = primary();
    while (peek()?.toLowerCase() === 'and') {
      pos++;
      const l = left;
      const r = primary();
      left = (e) => l(e) && r(e);
    }
    return left;
  };
  const orExpr = (): Filter => {
    let left = andExpr();
    while (peek()?.toLowerCase() === 'or') {
      pos++;
      const l = left;
      const r = andExpr();
      left = (e) => l(e) || r(e);
    }
    return left;
  };
  const f = orExpr();
  if (pos < tokens.length) fail('`and`, `or` or the end');
  return f;
}
