/**
 * A compact set of key fingerprints, each given a dense number 0..size-1 in the order
 * it was added: the candidate keys of duplicate detection (keys that may occur twice)
 * without a JavaScript string or object per key. A fingerprint is 96 bits of the key's
 * SHA-256 (src/csv/key-filter.ts keyDigest): two different keys of a file share one
 * with a probability of about n² / 2^97, nil for any file a person can write. The
 * fingerprints are stored densely (12 bytes each), the hash index over them is open
 * addressing at most 3/4 full (about 5.5 bytes per fingerprint more).
 */

const EMPTY = -1;

export class FingerprintTable {
  private slots = new Int32Array(1024).fill(EMPTY);
  private words = new Uint32Array(768 * 3);
  /** Fingerprints held. */
  size = 0;

  /** The dense number of digest d's fingerprint, adding it when it is new. */
  add(d: Buffer): number {
    const a = d.readUInt32LE(8);
    const b = d.readUInt32LE(12);
    const c = d.readUInt32LE(16);
    const slot = this.find(a, b, c);
    if (this.slots[slot] !== EMPTY) return this.slots[slot]!;
    const at = this.size++;
    if (at * 3 + 3 > this.words.length) {
      const words = new Uint32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
    }
    this.words[at * 3] = a;
    this.words[at * 3 + 1] = b;
    this.words[at * 3 + 2] = c;
    this.slots[slot] = at;
    if (this.size * 4 > this.slots.length * 3) this.rehash();
    return at;
  }

  /** The dense number of digest d's fingerprint, or -1 when it is not held. */
  get(d: Buffer): number {
    return this.slots[this.find(d.readUInt32LE(8), d.readUInt32LE(12), d.readUInt32LE(16))]!;
  }

  /** The slot holding this fingerprint, or the empty slot where it would go. */
  private find(a: number, b: number, c: number): number {
    const mask = this.slots.length - 1;
    for (let slot = a & mask; ; slot = (slot + 1) & mask) {
      const at = this.slots[slot]!;
      if (at === EMPTY) return slot;
      if (this.words[at * 3] === a && this.words[at * 3 + 1] === b && this.words[at * 3 + 2] === c) return slot;
    }
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = this.slots.length - 1;
    for (let at = 0; at < this.size; at++) {
      let slot = this.words[at * 3]! & mask;
      while (this.slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.slots[slot] = at;
    }
  }
}
