/**
 * Reading one System Log event as evidence about one row's push factor. Okta records
 * `user.mfa.factor.activate` for every factor a user activates (an email or phone
 * enrolled at sign-in, FastPass beside push, SMS and voice together, a second device), so
 * an event for the user is not evidence about the row's factor by itself:
 *  - `ours`: a SUCCESS event that names the row's factor (an AuthenticatorEnrollment or
 *    other target carrying its id), or that says push in debugData and names no other
 *    factor: the row is activated;
 *  - `other`: it names another factor (another type in debugData): ignored;
 *  - `unreadable`: a success that names no factor the runner can read (no target id,
 *    no debugData, or a different enrollment id with push in debugData): one poll of the
 *    row's factor confirms instead of trusting it;
 *  - `irrelevant`: not a success, or published before the factor existed.
 * debugData is a debugging aid, not a contract (Okta says so): it may settle a push row
 * only when it says push, and it never overrides a target that names the factor.
 */
import type { LogEvent } from '../okta/types.js';

export const ACTIVATE_EVENT = 'user.mfa.factor.activate';
export const SIGN_IN_EVENT = 'user.session.start';

/** Okta's clocks and ours: accept an event published this long before the factor's `created`. */
export const LOG_SKEW_MS = 2000;

export type Evidence = 'ours' | 'other' | 'unreadable' | 'irrelevant';

/** What judging an event needs of it: a LogEvent, or the compact copy kept for a user not watched yet. */
export interface EventFacts {
  uuid: string;
  eventType: string;
  published: string;
  outcome?: string;
  targets: ReadonlyArray<{ id: string; type: string }>;
  debugData?: Record<string, string>;
}

/** The compact copy of an event the store keeps for a user whose row is not watched yet. */
export function factsOf(event: LogEvent): EventFacts {
  return {
    uuid: event.uuid,
    eventType: event.eventType,
    published: event.published,
    ...(event.outcome ? { outcome: event.outcome } : {}),
    targets: event.targets.filter((t) => t.type !== 'User').map((t) => ({ id: t.id, type: t.type })),
    ...(event.debugData ? { debugData: pickFactorKeys(event.debugData) } : {}),
  };
}

function pickFactorKeys(d: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of FACTOR_KEYS) if (d[key]) out[key] = d[key]!;
  return out;
}

export interface WatchedFactor {
  factorId: string;
  /** push (the only type the log settles). */
  factorType: string;
  /** The factor's created time (epoch ms, Okta's clock as given). */
  createdMs?: number;
}

/** debugData keys where Okta's support articles say the factor is named. */
const FACTOR_KEYS = ['factor', 'factorType', 'factor_type', 'authenticator', 'methodTypeUsed'];

/** What debugData says the factor was, lower case: push, email, sms, signed_nonce, …; undefined when it says nothing. */
export function debugFactorType(event: Pick<EventFacts, 'debugData'>): string | undefined {
  const d = event.debugData;
  if (!d) return undefined;
  for (const key of FACTOR_KEYS) {
    const v = d[key];
    if (v && v.trim()) return normaliseFactorName(v);
  }
  return undefined;
}

function normaliseFactorName(v: string): string {
  const s = v.trim().toLowerCase();
  if (s === 'okta_verify_push' || s === 'okta verify push' || s === 'push') return 'push';
  if (s.includes('signed_nonce') || s.includes('fastpass')) return 'signed_nonce';
  return s;
}

export function judgeEvent(event: EventFacts, row: WatchedFactor): Evidence {
  if (event.eventType !== ACTIVATE_EVENT) return 'irrelevant';
  if (event.outcome !== undefined && event.outcome !== 'SUCCESS') return 'irrelevant';
  const published = Date.parse(event.published);
  if (row.createdMs !== undefined && Number.isFinite(published) && published < row.createdMs - LOG_SKEW_MS) return 'irrelevant';
  const factorTargets = (Array.isArray(event.targets) ? event.targets : []).filter((t) => t && t.type !== 'User');
  if (factorTargets.some((t) => t.id === row.factorId)) return event.outcome === 'SUCCESS' ? 'ours' : 'unreadable';
  const said = debugFactorType(event);
  const wanted = row.factorType.toLowerCase();
  if (said !== undefined && said !== wanted) return 'other';
  // An outcome Okta did not state: never settle on it.
  if (event.outcome === undefined) return 'unreadable';
  const namesAnotherEnrollment = factorTargets.some((t) => t.type === 'AuthenticatorEnrollment');
  if (said === wanted && !namesAnotherEnrollment) return 'ours';
  return 'unreadable';
}

/** The strongest evidence among several events: ours, else unreadable, else none. */
export function judgeEvents(events: readonly EventFacts[], row: WatchedFactor): Evidence | undefined {
  let best: Evidence | undefined;
  for (const e of events) {
    const v = judgeEvent(e, row);
    if (v === 'ours') return v;
    if (v === 'unreadable') best = v;
    else if (!best) best = v;
  }
  return best;
}
