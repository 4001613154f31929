/**
 * Duplicate rows as far as the file alone can tell: two valid rows for the same user and
 * factor type, where the same user is the same userId, the same login (compared
 * case-insensitively), or a userId and a login that some row of the file gives together
 * (that row ties them: a row naming the user by either is the same user). Of the rows
 * for one user and factor type, the first in the file is the original and every later
 * one a duplicate of it, wherever in the file the tie is.
 *
 * Memory stays flat. During the caller's validating pass every identity key goes into a
 * fixed-size Bloom filter (src/csv/key-filter.ts); keys that may occur twice become
 * candidates, kept as 96-bit fingerprints (src/csv/fingerprints.ts). Only a candidate
 * can link two rows, so when there are candidates a second pass groups them (union-find
 * over their dense numbers, joined by the rows that carry two of them) and decides each
 * row as it goes. A tie that joins two users who both already had rows of one factor
 * type changes decisions taken before it: then a third pass decides again over the
 * final groups.
 */
import { FACTOR_TYPES, type InputRow } from './input-row.js';
import { FingerprintTable } from './fingerprints.js';
import { KeyFilter, keyDigest } from './key-filter.js';

export interface DuplicateRow {
  row: number;
  /** The first row for the same user (same userId, same login, or tied by a row giving both) and factorType. */
  duplicateOf: number;
  userId?: string;
  login?: string;
  factorType: string;
  errorCode: 'DUPLICATE_ROW';
  reason: string;
}

const userKey = (userId: string) => `u\u0000${userId}`;
const loginKey = (login: string) => `l\u0000${login.toLowerCase()}`;

/** The identity keys of a row: its userId, its login. */
function identityKeys(row: Pick<InputRow, 'userId' | 'login'>): string[] {
  const keys: string[] = [];
  if (row.userId) keys.push(userKey(row.userId));
  if (row.login) keys.push(loginKey(row.login));
  return keys;
}

const NONE = -1;

/**
 * The first row of each (group, factor type) seen so far, with that row's candidate
 * keys: entries stored densely (16 bytes each) behind an open-addressing index.
 */
class FirstRows {
  private slots = new Int32Array(1024).fill(NONE);
  private keys = new Int32Array(768);
  private rows = new Uint32Array(768);
  private userKeys = new Int32Array(768);
  private loginKeys = new Int32Array(768);
  private size = 0;

  private slotOf(key: number): number {
    const mask = this.slots.length - 1;
    let slot = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    while (this.slots[slot] !== NONE && this.keys[this.slots[slot]!] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  get(group: number, factor: number): { row: number; userKey: number; loginKey: number } | undefined {
    const at = this.slots[this.slotOf(group * 4 + factor)]!;
    if (at === NONE) return undefined;
    return { row: this.rows[at]!, userKey: this.userKeys[at]!, loginKey: this.loginKeys[at]! };
  }

  set(group: number, factor: number, row: number, userKey: number, loginKey: number): void {
    const key = group * 4 + factor;
    const slot = this.slotOf(key);
    let at = this.slots[slot]!;
    if (at === NONE) {
      at = this.size++;
      if (at >= this.keys.length) this.growEntries();
      this.keys[at] = key;
      this.slots[slot] = at;
    }
    this.rows[at] = row;
    this.userKeys[at] = userKey;
    this.loginKeys[at] = loginKey;
    if (this.size * 4 > this.slots.length * 3) this.rehash();
  }

  private growEntries(): void {
    const grow = <T extends Int32Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    this.keys = grow(this.keys, (n) => new Int32Array(n));
    this.rows = grow(this.rows, (n) => new Uint32Array(n));
    this.userKeys = grow(this.userKeys, (n) => new Int32Array(n));
    this.loginKeys = grow(this.loginKeys, (n) => new Int32Array(n));
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(NONE);
    const mask = this.slots.length - 1;
    for (let at = 0; at < this.size; at++) {
      let slot = (Math.imul(this.keys[at]!, 0x9e3779b1) >>> 0) & mask;
      while (this.slots[slot] !== NONE) slot = (slot + 1) & mask;
      this.slots[slot] = at;
    }
  }
}

/** Union-find over the candidate keys: a group is one user. */
class UserGroups {
  private readonly parent: Int32Array;
  private readonly rank: Uint8Array;
  /** Per group: the factor types (bit per FACTOR_TYPES index) it has rows of, in the deciding pass. */
  private readonly factors: Uint8Array;
  /** Per group: the first row that tied two of its keys (0: none). */
  private readonly tie: Uint32Array;

  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
    this.rank = new Uint8Array(n);
    this.factors = new Uint8Array(n);
    this.tie = new Uint32Array(n);
  }

  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]!]!;
      x = p[x]!;
    }
    return x;
  }

  tieOf(group: number): number {
    return this.tie[group]!;
  }

  addFactor(group: number, factor: number): void {
    this.factors[group]! |= 1 << factor;
  }

  /**
   * Join the groups of keys a and b (row `row` gives both). Returns false when both
   * already had rows of a common factor type, so that decisions taken before change.
   * Otherwise the first rows of the absorbed group move to the joined one (when
   * decisions are still being taken: `firsts`).
   */
  join(a: number, b: number, row: number, firsts: FirstRows | undefined): boolean {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return true;
    if (this.rank[ra]! < this.rank[rb]!) [ra, rb] = [rb, ra];
    else if (this.rank[ra] === this.rank[rb]) this.rank[ra]!++;
    this.parent[rb] = ra;
    const ties = [this.tie[ra]!, this.tie[rb]!, row].filter((t) => t > 0);
    this.tie[ra] = Math.min(...ties);
    const overlap = (this.factors[ra]! & this.factors[rb]!) !== 0;
    for (let f = 0; firsts && f < FACTOR_TYPES.length; f++) {
      if (!(this.factors[rb]! & (1 << f)) || this.factors[ra]! & (1 << f)) continue;
      const first = firsts.get(rb, f);
      if (first) firsts.set(ra, f, first.row, first.userKey, first.loginKey);
    }
    this.factors[ra]! |= this.factors[rb]!;
    return !overlap;
  }
}

export interface Duplicates {
  count: number;
  /** The first `cap` duplicates, in file order. */
  list: DuplicateRow[];
}

export class DuplicateFinder {
  /** Only needed while rows are seen; dropped before the passes that allocate the groups. */
  private filter: KeyFilter | undefined = new KeyFilter();
  private readonly candidates = new FingerprintTable();

  /** The validating pass: every valid row, in file order. */
  see(row: InputRow): void {
    if (!this.filter) throw new Error('DuplicateFinder: see() after find()');
    for (const key of identityKeys(row)) {
      const d = keyDigest(key);
      if (this.filter.addDigestAndCheck(d)) this.candidates.add(d);
    }
  }

  /** Keys that may occur in more than one row (0: no row can be a duplicate). */
  get candidateCount(): number {
    return this.candidates.size;
  }

  /**
   * After the validating pass: the duplicates. `validRows` reads the file's valid rows
   * again, in the same order (called once, or twice when a late tie regroups users).
   */
  async find(validRows: () => AsyncIterable<InputRow>, cap: number): Promise<Duplicates> {
    this.filter = undefined;
    if (this.candidates.size === 0) return { count: 0, list: [] };
    const groups = new UserGroups(this.candidates.size);
    const first = await this.decide(validRows(), groups, true, cap);
    return first ?? (await this.decide(validRows(), groups, false, cap))!;
  }

  /** One deciding pass; with `joining`, also groups the keys, and returns undefined when a late tie regrouped. */
  private async decide(rows: AsyncIterable<InputRow>, groups: UserGroups, joining: boolean, cap: number): Promise<Duplicates | undefined> {
    let firsts: FirstRows | undefined = new FirstRows();
    const result: Duplicates = { count: 0, list: [] };
    let regrouped = false;
    for await (const row of rows) {
      const u = row.userId ? this.candidates.get(keyDigest(userKey(row.userId))) : NONE;
      const l = row.login ? this.candidates.get(keyDigest(loginKey(row.login))) : NONE;
      if (u === NONE && l === NONE) continue;
      if (joining && u !== NONE && l !== NONE && !groups.join(u, l, row.row, firsts)) {
        regrouped = true;
        firsts = undefined; // decisions are retaken in a third pass; only the grouping goes on
      }
      if (!firsts) continue;
      const factor = FACTOR_TYPES.indexOf(row.factorType as (typeof FACTOR_TYPES)[number]);
      const group = groups.find(u !== NONE ? u : l);
      const original = firsts.get(group, factor);
      if (!original) {
        firsts.set(group, factor, row.row, u, l);
        groups.addFactor(group, factor);
        continue;
      }
      result.count++;
      if (result.list.length >= cap) continue;
      const by =
        u !== NONE && u === original.userKey
          ? 'same userId'
          : l !== NONE && l === original.loginKey
            ? 'same login'
            : undefined;
      const reason = by
        ? `${by} and factorType (${row.factorType}) as row ${original.row}`
        : `same user and factorType (${row.factorType}) as row ${original.row} (row ${groups.tieOf(group)} gives both a userId and a login of this user)`;
      const dup: DuplicateRow = { row: row.row, duplicateOf: original.row, factorType: row.factorType, errorCode: 'DUPLICATE_ROW', reason };
      if (row.userId) dup.userId = row.userId;
      if (row.login) dup.login = row.login;
      result.list.push(dup);
    }
    return joining && regrouped ? undefined : result;
  }
}
