/**
 * The users file's `status`, `timezone` and `traits` columns: how a simulated user
 * differs from a plain ACTIVE one, parsed into values the API and the factor store act
 * on. Every parser returns the value or a sentence saying what was expected and found.
 *
 * traits (`;`-separated):
 *   protected                     factor changes answer 403 E0000006 (an admin the token may not change)
 *   provisioning:<ms>             factor enrolls answer 409 E0000112 for <ms> after the simulator started
 *   other-factor:<type>:<ms>      <ms> after a push activation started, the user activates a <type> factor
 *   fastpass                      scanning the push also activates Okta FastPass (signed_nonce)
 *   sign-in:<ms>[,<ms>…]          user.session.start events at those times after the simulator started
 *
 * factors (`;`-separated factor types): what the user already has, ACTIVE, when the simulator starts.
 */
import { FACTOR_TYPES, isFactorType, type FactorType } from './factor-types.js';

export const USER_STATUSES = ['ACTIVE', 'STAGED', 'PROVISIONED', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT', 'SUSPENDED', 'DEPROVISIONED'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/**
 * Statuses in which Okta refuses factor changes with 403 E0000038: a deactivated user
 * (DEPROVISIONED: "You can't unenroll a factor from a deactivated user") and a suspended
 * one. The others (STAGED, PROVISIONED, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT) accept them.
 */
export const FACTOR_FROZEN_STATUSES: readonly UserStatus[] = ['SUSPENDED', 'DEPROVISIONED'];

export interface UserTraits {
  protected: boolean;
  /** Factor enrolls answer 409 E0000112 until this many ms after the simulator started. */
  provisioningMs?: number;
  /** Factors the user activates on their own while a push activation waits. */
  otherFactors: Array<{ factorType: FactorType; ms: number }>;
  fastpass: boolean;
  /** user.session.start times, ms after the simulator started, ascending. */
  signIns: number[];
}

/** What a parser says about a cell it cannot use: what was expected, what was found. */
export interface Problem {
  problem: string;
}

export function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && 'problem' in v;
}

export function noTraits(): UserTraits {
  return { protected: false, otherFactors: [], fastpass: false, signIns: [] };
}

export function parseStatus(text: string): UserStatus | Problem {
  const s = text.trim().toUpperCase();
  if ((USER_STATUSES as readonly string[]).includes(s)) return s as UserStatus;
  return { problem: `expected one of ${USER_STATUSES.join(', ')}, got "${text}"` };
}

export function parseTimezone(text: string): string | Problem {
  const tz = text.trim();
  let ok = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz);
  if (ok) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      ok = false;
    }
  }
  return ok ? tz : { problem: `expected an IANA time zone such as Europe/Berlin or America/New_York, got "${text}"` };
}

const TRAIT_HELP = '"protected", "provisioning:<ms>", "other-factor:<type>:<ms>", "fastpass" or "sign-in:<ms>[,<ms>…]"';

/** The `factors` column: factor types the user already holds. */
export function parseFactorList(text: string): FactorType[] | Problem {
  const out: FactorType[] = [];
  for (const raw of text.split(';')) {
    const t = raw.trim();
    if (!t) continue;
    if (!isFactorType(t)) return { problem: `expected factor types among ${FACTOR_TYPES.join(', ')}, separated by ";", got "${t}"` };
    out.push(t);
  }
  return out;
}

export function parseTraits(text: string): UserTraits | Problem {
  const traits = collectTraits(text);
  return typeof traits === 'string' ? { problem: traits } : traits;
}

/** The traits of a cell, or the sentence about its first unusable entry. */
function collectTraits(text: string): UserTraits | string {
  const traits = noTraits();
  for (const raw of text.split(';')) {
    const entry = raw.trim();
    if (!entry) continue;
    const lower = entry.toLowerCase();
    if (lower === 'protected') {
      traits.protected = true;
    } else if (lower === 'fastpass') {
      traits.fastpass = true;
    } else if (lower.startsWith('provisioning:')) {
      const ms = entry.slice('provisioning:'.length).trim();
      if (!/^\d+$/.test(ms)) return `expected "provisioning:<ms>" with a number of milliseconds, got "${entry}"`;
      traits.provisioningMs = Number(ms);
    } else if (lower.startsWith('other-factor:')) {
      const rest = entry.slice('other-factor:'.length);
      const cut = rest.lastIndexOf(':');
      const type = cut < 0 ? rest : rest.slice(0, cut).trim();
      const ms = cut < 0 ? '' : rest.slice(cut + 1).trim();
      if (!isFactorType(type)) return `expected "other-factor:<type>:<ms>" with a type among ${FACTOR_TYPES.join(', ')}, got "${entry}"`;
      if (!/^\d+$/.test(ms)) return `expected "other-factor:<type>:<ms>" with a number of milliseconds, got "${entry}"`;
      traits.otherFactors.push({ factorType: type, ms: Number(ms) });
    } else if (lower.startsWith('sign-in:')) {
      const times = entry.slice('sign-in:'.length).split(',').map((t) => t.trim());
      if (!times.length || times.some((t) => !/^\d+$/.test(t))) return `expected "sign-in:<ms>[,<ms>…]" with numbers of milliseconds, got "${entry}"`;
      traits.signIns.push(...times.map(Number));
    } else {
      return `expected each entry to be ${TRAIT_HELP}, got "${entry}"`;
    }
  }
  traits.signIns.sort((a, b) => a - b);
  return traits;
}
