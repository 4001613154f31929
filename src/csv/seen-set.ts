/**
 * A compact set of strings for duplicate detection over a million rows: each key is
 * kept as a 64-bit hash (from SHA-256) in an open-addressing table of typed arrays,
 * with the row number that first claimed it. About 24 bytes per key at most, no
 * per-key objects. A false match needs two different keys with equal 64-bit hashes
 * (about 1 in 10^7 for a million keys).
 */
import { createHash } from 'node:crypto';

export class SeenSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private rows: Uint32Array;
  private size = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.rows = new Uint32Array(cap);
  }

  get count(): number {
    return this.size;
  }

  /** The row that claimed key, or undefined. */
  lookup(key: string): number | undefined {
    const [h, l] = hash(key);
    const i = this.slot(h, l);
    return this.hi[i] === 0 && this.lo[i] === 0 ? undefined : this.rows[i];
  }

  /**
   * Adds key with its row; returns the row that added it first (the key is then left
   * as it was), or undefined when the key is new.
   */
  claim(key: string, row: number): number | undefined {
    const [h, l] = hash(key);
    const i = this.slot(h, l);
    if (this.hi[i] !== 0 || this.lo[i] !== 0) return this.rows[i];
    this.hi[i] = h;
    this.lo[i] = l;
    this.rows[i] = row;
    this.size++;
    if (this.size * 2 > this.hi.length) this.grow();
    return undefined;
  }

  /** The slot holding (h, l), or the empty slot where it would go. */
  private slot(h: number, l: number): number {
    const mask = this.hi.length - 1;
    let i = l & mask;
    for (;;) {
      const sh = this.hi[i]!;
      const sl = this.lo[i]!;
      if ((sh === 0 && sl === 0) || (sh === h && sl === l)) return i;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const { hi, lo, rows } = this;
    const cap = hi.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.rows = new Uint32Array(cap);
    const mask = cap - 1;
    for (let j = 0; j < hi.length; j++) {
      const h = hi[j]!;
      const l = lo[j]!;
      if (h === 0 && l === 0) continue;
      let i = l & mask;
      while (this.hi[i] !== 0 || this.lo[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = h;
      this.lo[i] = l;
      this.rows[i] = rows[j]!;
    }
  }
}

function hash(key: string): [number, number] {
  const digest = createHash('sha256').update(key).digest();
  const h = digest.readUInt32LE(0);
  const l = digest.readUInt32LE(4);
  return h === 0 && l === 0 ? [0, 1] : [h, l]; // (0, 0) marks an empty slot
}
