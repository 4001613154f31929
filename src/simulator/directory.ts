/**
 * The simulated org's people: users (from `--users-csv` or generated), how each one
 * behaves when asked to scan a QR code, and groups.
 *
 * Users file columns: id, login (required); activation, group, email, phone, status,
 * timezone, traits, factors (optional; the last four are described in traits.ts).
 * `activation`: one entry per activation attempt, `;`-separated, the last one repeating:
 *   never               the user never scans (the activation expires)
 *   <ms>                the user scans <ms> after the attempt started
 *   after-delivery:<ms> the user scans <ms> after an activation link was sent to them
 *   cancel:<ms>         at <ms> the activation's factorResult becomes CANCELLED
 *   error:<ms>          at <ms> the activation's factorResult becomes ERROR
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { InputFileError } from '../errors.js';
import { seededRandom, oktaId } from './random.js';
import { isProblem, noTraits, parseFactorList, parseStatus, parseTimezone, parseTraits, type Problem, type UserStatus, type UserTraits } from './traits.js';
import type { FactorType } from './factor-types.js';

export type ActivationStep =
  | { kind: 'never' }
  | { kind: 'delay'; ms: number }
  | { kind: 'afterDelivery'; ms: number }
  | { kind: 'cancel'; ms: number }
  | { kind: 'error'; ms: number };

export interface SimUser {
  id: string;
  login: string;
  email: string;
  phone?: string;
  firstName: string;
  lastName: string;
  /** Per-attempt behaviour; undefined: follow activateRatio / activateAfterMs. */
  activation?: ActivationStep[];
  groups: string[];
  created: number;
  status: UserStatus;
  /** profile.timezone (IANA). */
  timezone?: string;
  traits: UserTraits;
  /** Factors the user already holds (ACTIVE) when the simulator starts. */
  existingFactors: FactorType[];
}

export interface SimGroup {
  id: string;
  name: string;
  /** Member ids in directory order. */
  members: string[];
  created: number;
}

export class Directory {
  private readonly byId = new Map<string, SimUser>();
  private readonly byLogin = new Map<string, SimUser>();
  readonly groups = new Map<string, SimGroup>();

  add(user: SimUser): void {
    this.byId.set(user.id, user);
    this.byLogin.set(user.login.toLowerCase(), user);
    for (const g of user.groups) {
      let group = this.groups.get(g);
      if (!group) {
        group = { id: g, name: g, members: [], created: user.created };
        this.groups.set(g, group);
      }
      group.members.push(user.id);
    }
  }

  get(id: string): SimUser | undefined {
    return this.byId.get(id);
  }

  /** Okta's `/api/v1/users/{idOrLogin}`: an id, else a login (case-insensitive). */
  find(idOrLogin: string): SimUser | undefined {
    return this.byId.get(idOrLogin) ?? this.byLogin.get(idOrLogin.toLowerCase());
  }

  users(): IterableIterator<SimUser> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }
}

const STEP_HELP = '"never", a delay in ms, "after-delivery:<ms>", "cancel:<ms>" or "error:<ms>"';
const TIMED_STEPS: Record<string, 'afterDelivery' | 'cancel' | 'error'> = { 'after-delivery': 'afterDelivery', cancel: 'cancel', error: 'error' };

export function parseActivation(text: string): ActivationStep[] | string {
  const steps: ActivationStep[] = [];
  for (const raw of text.split(';')) {
    const entry = raw.trim();
    if (entry.toLowerCase() === 'never') {
      steps.push({ kind: 'never' });
    } else if (/^\d+$/.test(entry)) {
      steps.push({ kind: 'delay', ms: Number(entry) });
    } else {
      const m = /^(after-delivery|cancel|error):(\d+)$/i.exec(entry);
      if (!m) return `expected each entry to be ${STEP_HELP}, got "${entry}"`;
      steps.push({ kind: TIMED_STEPS[m[1]!.toLowerCase()]!, ms: Number(m[2]) });
    }
  }
  return steps;
}

function readCsv(file: string): Array<{ record: Record<string, string>; line: number }> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputFileError(file, `cannot read the file (${(err as Error).message})`);
  }
  try {
    const rows = parse(text, { columns: (h: string[]) => h.map((c) => c.trim()), skip_empty_lines: true, trim: true, bom: true, info: true }) as Array<{
      record: Record<string, string>;
      info: { lines: number };
    }>;
    return rows.map((r) => ({ record: r.record, line: r.info.lines }));
  } catch (err) {
    throw new InputFileError(file, `not a valid CSV file (${(err as Error).message})`);
  }
}

/** Reads a users file; every problem is listed (up to 20) in one InputFileError. */
export function loadUsersCsv(file: string, now: number): SimUser[] {
  const rows = readCsv(file);
  if (rows.length === 0) throw new InputFileError(file, 'expected a header `id,login` and at least one user, found no rows');
  const header = Object.keys(rows[0]!.record);
  for (const col of ['id', 'login']) {
    if (!header.includes(col)) throw new InputFileError(file, `expected a column \`${col}\`, found columns ${header.map((h) => `\`${h}\``).join(', ')}`, 1);
  }
  const problems: string[] = [];
  const users: SimUser[] = [];
  const ids = new Set<string>();
  const logins = new Set<string>();
  for (const { record, line } of rows) {
    const id = record.id ?? '';
    const login = record.login ?? '';
    if (!id) problems.push(`line ${line}: column \`id\`: expected a user id, got ""`);
    else if (ids.has(id)) problems.push(`line ${line}: column \`id\`: expected a unique id, got "${id}" a second time`);
    if (!login) problems.push(`line ${line}: column \`login\`: expected a login, got ""`);
    else if (logins.has(login.toLowerCase())) problems.push(`line ${line}: column \`login\`: expected a unique login, got "${login}" a second time`);
    ids.add(id);
    logins.add(login.toLowerCase());
    let activation: ActivationStep[] | undefined;
    const act = record.activation;
    if (act) {
      const parsed = parseActivation(act);
      if (typeof parsed === 'string') problems.push(`line ${line}: column \`activation\`: ${parsed}`);
      else activation = parsed;
    }
    const cell = <T>(column: string, parsed: T | Problem, fallback: T): T => {
      if (!isProblem(parsed)) return parsed;
      problems.push(`line ${line}: column \`${column}\`: ${parsed.problem}`);
      return fallback;
    };
    const status = record.status ? cell<UserStatus>('status', parseStatus(record.status), 'ACTIVE') : 'ACTIVE';
    const timezone = record.timezone ? cell<string | undefined>('timezone', parseTimezone(record.timezone), undefined) : undefined;
    const traits = record.traits ? cell('traits', parseTraits(record.traits), noTraits()) : noTraits();
    const existingFactors = record.factors ? cell<FactorType[]>('factors', parseFactorList(record.factors), []) : [];
    const groups = (record.group ?? '').split(';').map((g) => g.trim()).filter(Boolean);
    const [firstName, lastName] = login.split('@')[0]!.split(/[._-]/);
    users.push({
      id,
      login,
      email: record.email || (login.includes('@') ? login : `${login}@example.com`),
      ...(record.phone ? { phone: record.phone } : {}),
      firstName: firstName || login,
      lastName: lastName || 'User',
      ...(activation ? { activation } : {}),
      groups,
      created: now,
      status,
      ...(timezone ? { timezone } : {}),
      traits,
      existingFactors,
    });
  }
  if (problems.length) {
    const shown = problems.slice(0, 20);
    if (problems.length > 20) shown.push(`… and ${problems.length - 20} more`);
    throw new InputFileError(file, `invalid users file:\n  ${shown.join('\n  ')}`);
  }
  return users;
}

/** Reads a groups file (id,name). */
export function loadGroupsCsv(file: string): Array<{ id: string; name: string }> {
  const rows = readCsv(file);
  const out: Array<{ id: string; name: string }> = [];
  for (const { record, line } of rows) {
    if (!record.id) throw new InputFileError(file, 'column `id`: expected a group id, got ""', line);
    out.push({ id: record.id, name: record.name || record.id });
  }
  return out;
}

/** N users, the same for the same seed: user0001@example.com … with ids 00u…. */
export function generateUsers(count: number, seed: number, now: number): SimUser[] {
  const random = seededRandom(seed ^ 0x5eed0001);
  const width = Math.max(4, String(count).length);
  const users: SimUser[] = [];
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(width, '0');
    users.push({
      id: oktaId(random, '00u'),
      login: `user${n}@example.com`,
      email: `user${n}@example.com`,
      phone: `+1555${String(i).padStart(7, '0')}`,
      firstName: 'User',
      lastName: n,
      groups: [],
      created: now,
      status: 'ACTIVE',
      traits: noTraits(),
      existingFactors: [],
    });
  }
  return users;
}

export function buildDirectory(users: SimUser[], groupNames: Array<{ id: string; name: string }>, now: number): Directory {
  const dir = new Directory();
  for (const u of users) dir.add(u);
  for (const g of groupNames) {
    const group = dir.groups.get(g.id);
    if (group) group.name = g.name;
    else dir.groups.set(g.id, { id: g.id, name: g.name, members: [], created: now });
  }
  return dir;
}
