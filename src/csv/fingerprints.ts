/**
 * A compact set of key fingerprints, each given a dense number 0..size-1 in the order
 * it was added: the candidate keys of duplicate detection (keys that may occur twice)
 * without a JavaScript string or object per key. A fingerprint is 96 bits of the key's
 * SHA-256 (src/csv/key-filter.ts keyDigest): two different keys of a file share one
 * with a probability of about n² / 2^97, nil for any file a person can write. Open
 * addressing in typed arrays: 16 bytes a slot, at most half the slots used.
 */

const EMPTY = -1;

export class FingerprintTable {
  private capacity = 1024;
  private words = new Uint32Array(this.capacity * 3);
  private index = new Int32Array(this.capacity).fill(EMPTY);
  /** Fingerprints held. */
  size = 0;

  /** The dense number of digest d's fingerprint, adding it when it is new. */
  add(d: Buffer): number {
    const found = this.get(d);
    if (found !== EMPTY) return found;
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    this.place(d.readUInt32LE(8), d.readUInt32LE(12), d.readUInt32LE(16), this.size);
    return this.size++;
  }

  /** The dense number of digest d's fingerprint, or -1 when it is not held. */
  get(d: Buffer): number {
    const a = d.readUInt32LE(8);
    const b = d.readUInt32LE(12);
    const c = d.readUInt32LE(16);
    const mask = this.capacity - 1;
    for (let slot = a & mask; ; slot = (slot + 1) & mask) {
      const at = this.index[slot]!;
      if (at === EMPTY) return EMPTY;
      const w = slot * 3;
      if (this.words[w] === a && this.words[w + 1] === b && this.words[w + 2] === c) return at;
    }
  }

  private place(a: number, b: number, c: number, at: number): void {
    const mask = this.capacity - 1;
    let slot = a & mask;
    while (this.index[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.index[slot] = at;
    this.words[slot * 3] = a;
    this.words[slot * 3 + 1] = b;
    this.words[slot * 3 + 2] = c;
  }

  private grow(): void {
    const { words, index } = this;
    this.capacity *= 2;
    this.words = new Uint32Array(this.capacity * 3);
    this.index = new Int32Array(this.capacity).fill(EMPTY);
    for (let slot = 0; slot < index.length; slot++) {
      const at = index[slot]!;
      if (at !== EMPTY) this.place(words[slot * 3]!, words[slot * 3 + 1]!, words[slot * 3 + 2]!, at);
    }
  }
}
