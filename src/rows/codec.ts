/**
 * The stored form of a row's records, and the only code that knows it. Everything else
 * works with RowState and RowOutcome (named fields, booleans). Compact keys pay for the
 * outcome record (one per row, kept until the run is deleted: a million rows) and keep
 * the progress record of a row in flight small (Redis memory per in-flight row ≤ 1 KB).
 */
import type { InputRow } from '../csv/input-row.js';
import type { HttpMethod, SafeLink } from '../okta/types.js';
import type { OutcomeKind, RowOutcome } from './outcome.js';
import type { Delivery, Hold, Phase, RowState } from './state.js';
import { newRowState } from './state.js';

// ---- input (one per row, kept while the run exists) ----

/** Input as stored: [userId, login, factorType, provider, deviceType, deviceName, phoneNumber, email], trailing blanks cut. */
export function encodeInput(r: InputRow): string {
  const a = [r.userId ?? '', r.login ?? '', r.factorType, r.provider, r.deviceType ?? '', r.deviceName ?? '', r.phoneNumber ?? '', r.email ?? ''];
  while (a.length > 4 && a[a.length - 1] === '') a.pop();
  return JSON.stringify(a);
}

export function decodeInput(row: number, text: string): InputRow {
  const a = JSON.parse(text) as string[];
  const v = (i: number) => (a[i] ? a[i] : undefined);
  const input: InputRow = { row, factorType: a[2] ?? 'push', provider: a[3] ?? 'OKTA' };
  const fields = ['userId', 'login', '', '', 'deviceType', 'deviceName', 'phoneNumber', 'email'] as const;
  fields.forEach((name, i) => {
    const value = v(i);
    if (name && value !== undefined) input[name] = value;
  });
  return input;
}

// ---- progress (a row in flight) ----

interface StoredProgress {
  /** phase: s start, e enrolling, r restarting, w waiting (absent: start). */
  p?: 's' | 'e' | 'r' | 'w';
  u?: string;
  fi?: string;
  fs?: string;
  fc?: string;
  /** poll link [href, method]. */
  pl?: [string, string];
  /** activate link [href, method]. */
  al?: [string, string];
  /** activation: [startedAt, expiresAt, expiresKnown 0/1, polls, delivered 0/1]. */
  ac?: [number, number, number, number, number];
  at?: number;
  ra?: number;
  rc?: 1;
  rq?: number;
  n?: string[];
  d?: string;
  /** trouble [since, tries]. */
  tr?: [number, number];
  /** hold [kind, since, extra]: kind r refused (extra: summary), p provisioning (extra: tries), x elsewhere (extra: holder). */
  h?: [string, number, string | number];
  rk?: 1;
  ml?: 1;
}

const PHASE_CODE: Record<Phase, NonNullable<StoredProgress['p']>> = { start: 's', enrolling: 'e', restarting: 'r', waiting: 'w' };
const PHASE_OF: Record<string, Phase> = { s: 'start', e: 'enrolling', r: 'restarting', w: 'waiting' };

function linkOut(l: SafeLink | undefined): [string, string] | undefined {
  return l ? [l.href, l.method] : undefined;
}

function linkIn(v: unknown): SafeLink | undefined {
  if (!Array.isArray(v) || typeof v[0] !== 'string') return undefined;
  const method = typeof v[1] === 'string' ? (v[1] as HttpMethod) : 'GET';
  return { href: v[0], method };
}

function holdOut(h: Hold): [string, number, string | number] {
  switch (h.kind) {
    case 'refused':
      return ['r', h.since, h.summary];
    case 'provisioning':
      return ['p', h.since, h.tries];
    case 'elsewhere':
      return ['x', h.since, h.holder];
  }
}

function holdIn(v: unknown): Hold | undefined {
  if (!Array.isArray(v) || typeof v[1] !== 'number') return undefined;
  switch (v[0]) {
    case 'r':
      return { kind: 'refused', since: v[1], summary: String(v[2] ?? '') };
    case 'p':
      return { kind: 'provisioning', since: v[1], tries: Number(v[2] ?? 0) };
    case 'x':
      return { kind: 'elsewhere', since: v[1], holder: String(v[2] ?? '') };
    default:
      return undefined;
  }
}

export function encodeProgress(s: RowState): string {
  const o: StoredProgress = {};
  if (s.phase !== 'start') o.p = PHASE_CODE[s.phase];
  if (s.userId) o.u = s.userId;
  if (s.factor) {
    o.fi = s.factor.id;
    if (s.factor.status) o.fs = s.factor.status;
    if (s.factor.created) o.fc = s.factor.created;
    const pl = linkOut(s.factor.pollLink);
    if (pl) o.pl = pl;
    const al = linkOut(s.factor.activateLink);
    if (al) o.al = al;
  }
  if (s.activation) {
    const a = s.activation;
    o.ac = [a.startedAt, a.expiresAt, a.expiresKnown ? 1 : 0, a.polls, a.delivered ? 1 : 0];
  }
  if (s.attempts) o.at = s.attempts;
  if (s.restarts) o.ra = s.restarts;
  if (s.restartCharged) o.rc = 1;
  if (s.requeues) o.rq = s.requeues;
  if (s.notes.length) o.n = s.notes;
  if (s.delivery) o.d = s.delivery;
  if (s.trouble) o.tr = [s.trouble.since, s.trouble.tries];
  if (s.hold) o.h = holdOut(s.hold);
  if (s.raceCheck) o.rk = 1;
  if (s.mustLook) o.ml = 1;
  return JSON.stringify(o);
}

function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** A stored progress record → RowState. Missing or unreadable: a row that has not started. */
export function decodeProgress(text: string | null | undefined): RowState {
  const s = newRowState();
  if (!text) return s;
  let o: StoredProgress;
  try {
    o = JSON.parse(text) as StoredProgress;
  } catch {
    return s;
  }
  if (!o || typeof o !== 'object') return s;
  s.phase = (o.p && PHASE_OF[o.p]) || 'start';
  if (typeof o.u === 'string') s.userId = o.u;
  if (typeof o.fi === 'string') {
    s.factor = { id: o.fi, status: typeof o.fs === 'string' ? o.fs : '' };
    if (typeof o.fc === 'string') s.factor.created = o.fc;
    const pl = linkIn(o.pl);
    if (pl) s.factor.pollLink = pl;
    const al = linkIn(o.al);
    if (al) s.factor.activateLink = al;
  }
  if (Array.isArray(o.ac)) {
    s.activation = {
      startedAt: num(o.ac[0]),
      expiresAt: num(o.ac[1]),
      expiresKnown: o.ac[2] === 1,
      polls: num(o.ac[3]),
      delivered: o.ac[4] === 1,
    };
  }
  s.attempts = num(o.at);
  s.restarts = num(o.ra);
  if (o.rc === 1) s.restartCharged = true;
  s.requeues = num(o.rq);
  if (Array.isArray(o.n)) s.notes = o.n.filter((n): n is string => typeof n === 'string');
  if (typeof o.d === 'string') s.delivery = o.d as Delivery;
  if (Array.isArray(o.tr)) s.trouble = { since: num(o.tr[0]), tries: num(o.tr[1]) };
  const hold = holdIn(o.h);
  if (hold) s.hold = hold;
  if (o.rk === 1) s.raceCheck = true;
  if (o.ml === 1) s.mustLook = true;
  return s;
}

// ---- outcome (a finished row) ----

interface StoredOutcome {
  o: OutcomeKind;
  uid?: string;
  fid?: string;
  fs?: string;
  ec?: string;
  es?: string;
  at?: number;
  cr?: string;
  fin: string;
  n?: string;
  d?: string;
}

export function encodeOutcome(r: RowOutcome): string {
  const o: StoredOutcome = { o: r.outcome, fin: r.finishedAt };
  if (r.userId) o.uid = r.userId;
  if (r.factorId) o.fid = r.factorId;
  if (r.status) o.fs = r.status;
  if (r.errorCode) o.ec = r.errorCode;
  if (r.errorSummary !== undefined && r.errorSummary !== '') o.es = r.errorSummary;
  if (r.attempts) o.at = r.attempts;
  if (r.enrolledAt) o.cr = r.enrolledAt;
  if (r.note) o.n = r.note;
  if (r.delivery !== 'none') o.d = r.delivery;
  return JSON.stringify(o);
}

export function decodeOutcome(text: string | null | undefined): RowOutcome | undefined {
  if (!text) return undefined;
  let o: StoredOutcome;
  try {
    o = JSON.parse(text) as StoredOutcome;
  } catch {
    return undefined;
  }
  if (!o || typeof o !== 'object' || (o.o !== 'activated' && o.o !== 'expired' && o.o !== 'failed')) return undefined;
  const r: RowOutcome = { outcome: o.o, attempts: num(o.at), finishedAt: typeof o.fin === 'string' ? o.fin : '', delivery: (typeof o.d === 'string' ? o.d : 'none') as Delivery };
  if (typeof o.uid === 'string') r.userId = o.uid;
  if (typeof o.fid === 'string') r.factorId = o.fid;
  if (typeof o.fs === 'string') r.status = o.fs;
  if (typeof o.ec === 'string') r.errorCode = o.ec;
  if (typeof o.es === 'string') r.errorSummary = o.es;
  if (typeof o.cr === 'string') r.enrolledAt = o.cr;
  if (typeof o.n === 'string') r.note = o.n;
  return r;
}
