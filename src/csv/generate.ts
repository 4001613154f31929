/**
 * Realistic input CSVs and the matching simulated Okta directory, for tests, the
 * demo and the bench. Deterministic for a given seed; written as streams, so a
 * million rows take little memory.
 *
 * The directory has the columns the simulator's --users-csv takes:
 *   id,login,activation,group
 * activation: `never`, a delay in ms after which the user scans, or
 * `after-delivery:<ms>`; several separated by `;` (one per activation attempt, the last
 * repeating). The generator writes `never` or a delay. group: group ids separated by `;`.
 */
import { seededRandom } from '../simulator/random.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';

export const INPUT_HEADER = ['userId', 'login', 'factorType', 'provider', 'deviceType', 'deviceName', 'phoneNumber'] as const;
export const DIRECTORY_HEADER = ['id', 'login', 'activation', 'group'] as const;

const FIRST = [
  'Alice', 'Bruno', 'Chloe', 'Daniel', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas',
  'Kavya', 'Liam', 'Mei', 'Noah', 'Olga', 'Pedro', 'Quinn', 'Rosa', 'Samir', 'Tara',
  'Umar', 'Vera', 'Wen', 'Ximena', 'Yusuf', 'Zoe', 'Aaron', 'Bianca', 'Carlos', 'Dana',
  'Emeka', 'Fatima', 'Gustav', 'Hana', 'Ivan', 'Julia', 'Kofi', 'Lena', 'Marco', 'Nadia',
];
const LAST = [
  'Smith', 'Garcia', 'Nguyen', 'Müller', 'Rossi', 'Kowalski', 'Okafor', 'Tanaka', 'Silva', 'Jensen',
  'Haddad', 'Novak', 'Dubois', 'Chen', 'Patel', 'Ivanova', 'Murphy', 'Larsen', 'Costa', 'Schmidt',
  'Kim', 'Ahmed', 'Fischer', 'Moreau', 'Sato', 'Lopez', 'Brown', 'Walsh', 'Bauer', 'Yilmaz',
  'Andersen', 'Petrov', 'Hughes', 'Ortiz', 'Wagner', 'Rahman', 'Keller', 'Mendes', 'Quinn', 'Park',
];
const DEVICES: Array<[string, string]> = [
  ['iPhone', 'SmartPhone_IPhone'],
  ['iPhone 15', 'SmartPhone_IPhone'],
  ['Pixel 8', 'SmartPhone_Android'],
  ['Galaxy S23', 'SmartPhone_Android'],
  ['work phone', 'SmartPhone_IPhone'],
];
export const DEFAULT_GROUPS = ['finance', 'sales', 'engineering', 'support', 'legal', 'hr'];

/** An Okta-style group id of 20 characters: 00gfinance000000000a. */
export function groupId(name: string): string {
  return `00g${name.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 19).padEnd(19, '0') + 'a';
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number, width: number): string {
  let s = '';
  let v = n;
  do {
    s = B62[v % 62]! + s;
    v = Math.floor(v / 62);
  } while (v > 0);
  return s.padStart(width, '0');
}


export interface SimUser {
  index: number;
  id: string;
  login: string;
  firstName: string;
  lastName: string;
}

/** The i-th user of a seed: unique id (00u + 17 chars) and login (first.last@example.com). */
export function userAt(index: number, seed = 1): SimUser {
  const rnd = seededRandom((seed * 0x9e3779b1 + index) >>> 0);
  let noise = '';
  for (let k = 0; k < 11; k++) noise += B62[Math.floor(rnd() * 62)]!;
  // 62^6 ids per seed; the multiplier is coprime to 62^6, so distinct indexes give distinct ids.
  const id = `00u${noise}${base62((index * 1_000_003 + 9_876_543_210) % 56_800_235_584, 6)}`;
  const combos = FIRST.length * LAST.length;
  const c = (index * 617) % combos;
  const round = Math.floor(index / combos);
  const firstName = FIRST[c % FIRST.length]!;
  const lastName = LAST[Math.floor(c / FIRST.length)]!;
  const ascii = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/ü/g, 'u').toLowerCase();
  const login = `${ascii(firstName)}.${ascii(lastName)}${round ? round + 1 : ''}@example.com`;
  return { index, id, login, firstName, lastName };
}

export type RowKind = 'scans' | 'never' | 'unknown' | 'invalid' | 'duplicate';

export interface GenerateOptions {
  seed?: number;
  /** Also write the simulated directory for these rows here. */
  directoryFile?: string;
  /** Also write `row,outcome,errorCode,userId,login` here: what a correct run reports per row. */
  expectationsFile?: string;
  /** Rows naming the user by login instead of userId (default 0.15). */
  byLoginRate?: number;
  /** sms rows, with a phone number (default 0.05). */
  smsRate?: number;
  /** Users who never scan the QR code (default 0.12). */
  neverRate?: number;
  /** Rows naming users absent from the directory (default 0.03). */
  unknownRate?: number;
  /** Rows with an invalid value (default 0). */
  invalidRate?: number;
  /** Rows repeating an earlier row's user and factor type (default 0). */
  duplicateRate?: number;
  /** Scan delay range in ms (default [500, 5000]). */
  scanDelayMs?: [number, number];
  /** Group names for the directory (default finance, sales, …). */
  groups?: string[];
  /** Extra directory users that no row names (default 0). */
  extraDirectoryUsers?: number;
}

export interface GenerateResult {
  rows: number;
  directoryUsers: number;
  /** Rows per expected outcome kind. */
  kinds: Record<RowKind, number>;
}

async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function finish(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

async function openOut(file: string): Promise<WriteStream> {
  await mkdir(dirname(file), { recursive: true });
  const s = createWriteStream(file, { encoding: 'utf8' });
  await once(s, 'open');
  return s;
}

const line = (cells: readonly (string | number)[]): string => stringify([cells.map(String)], { record_delimiter: 'unix' });

const INVALID_VARIANTS: Array<(u: SimUser) => string[]> = [
  (u) => [u.id, '', 'yubikey', '', '', '', ''],
  (u) => [u.id, '', 'sms', '', '', '', '555-1234'],
  (u) => [`${u.id}!`, '', 'push', '', '', '', ''],
  () => ['', 'me', 'push', '', '', '', ''],
  () => ['', '', 'push', '', '', 'Nobody\'s phone', ''],
];

/**
 * Write an input CSV of n rows (and, when asked, the directory and the expected
 * outcomes). Row kinds are drawn with the given rates; rows are numbered 1..n.
 */
export async function generateUsersCsv(file: string, n: number, opts: GenerateOptions = {}): Promise<GenerateResult> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n: expected an integer >= 0, got ${n}`);
  const seed = opts.seed ?? 1;
  const rnd = seededRandom(seed);
  const byLogin = opts.byLoginRate ?? 0.15;
  const sms = opts.smsRate ?? 0.05;
  const never = opts.neverRate ?? 0.12;
  const unknown = opts.unknownRate ?? 0.03;
  const invalid = opts.invalidRate ?? 0;
  const duplicate = opts.duplicateRate ?? 0;
  const [minDelay, maxDelay] = opts.scanDelayMs ?? [500, 5000];
  const groups = (opts.groups ?? DEFAULT_GROUPS).map(groupId);

  const input = await openOut(file);
  const directory = opts.directoryFile ? await openOut(opts.directoryFile) : undefined;
  const expect = opts.expectationsFile ? await openOut(opts.expectationsFile) : undefined;
  const kinds: Record<RowKind, number> = { scans: 0, never: 0, unknown: 0, invalid: 0, duplicate: 0 };
  let directoryUsers = 0;
  let lastNormal: string[] | undefined;
  try {
    await put(input, line(INPUT_HEADER));
    if (directory) await put(directory, line(DIRECTORY_HEADER));
    if (expect) await put(expect, line(['row', 'outcome', 'errorCode', 'userId', 'login']));
    for (let i = 0; i < n; i++) {
      const row = i + 1;
      const u = userAt(i, seed);
      const r = rnd();
      let kind: RowKind;
      if (r < invalid) kind = 'invalid';
      else if (r < invalid + duplicate && lastNormal) kind = 'duplicate';
      else if (r < invalid + duplicate + unknown) kind = 'unknown';
      else kind = rnd() < never ? 'never' : 'scans';

      const [device, deviceType] = DEVICES[Math.floor(rnd() * DEVICES.length)]!;
      const isSms = kind !== 'never' && rnd() < sms;
      const viaLogin = rnd() < byLogin;
      let cells: string[];
      if (kind === 'invalid') {
        cells = INVALID_VARIANTS[Math.floor(rnd() * INVALID_VARIANTS.length)]!(u);
      } else if (kind === 'duplicate') {
        cells = [...lastNormal!];
        cells[5] = `${u.firstName}'s spare ${device}`;
      } else {
        const phone = `+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`;
        cells = [
          viaLogin ? '' : u.id,
          viaLogin ? u.login : '',
          isSms ? 'sms' : 'push',
          'OKTA',
          isSms ? '' : deviceType,
          isSms ? '' : `${u.firstName}'s ${device}`,
          isSms ? phone : '',
        ];
      }
      kinds[kind]++;
      await put(input, line(cells));

      if ((kind === 'scans' || kind === 'never') && directory) {
        const delay = Math.round(minDelay + rnd() * (maxDelay - minDelay));
        const activation = kind === 'never' ? 'never' : String(delay);
        const group = groups.length ? groups[Math.floor(rnd() * groups.length)]! : '';
        await put(directory, line([u.id, u.login, activation, group]));
        directoryUsers++;
      }
      if (kind === 'scans' || kind === 'never') {
        lastNormal = cells;
      }
      if (expect) {
        const outcome =
          kind === 'scans' ? ['activated', ''] :
          kind === 'never' ? ['expired', ''] :
          kind === 'unknown' ? ['failed', 'E0000007'] :
          kind === 'invalid' ? ['failed', 'INVALID_INPUT'] :
          ['failed', 'DUPLICATE_ROW'];
        await put(expect, line([row, outcome[0]!, outcome[1]!, cells[0] ?? '', cells[1] ?? '']));
      }
    }
    if (directory) {
      for (let k = 0; k < (opts.extraDirectoryUsers ?? 0); k++) {
        const u = userAt(n + 1_000_000 + k, seed);
        await put(directory, line([u.id, u.login, String(minDelay), groups[k % Math.max(1, groups.length)] ?? '']));
        directoryUsers++;
      }
    }
  } finally {
    await finish(input);
    if (directory) await finish(directory);
    if (expect) await finish(expect);
  }
  return { rows: n, directoryUsers, kinds };
}
