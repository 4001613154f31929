/**
 * A fixed-size Bloom filter of row keys: the first step of duplicate detection that stays
 * flat however long the file is. It answers "maybe seen" or "certainly not seen"; keys that
 * may have been seen become candidates, checked exactly on a second pass over the file
 * (only when there are any). 16 MiB and 8 hashes: about 2 false candidates in 10^10 keys
 * at a million keys (so a file without repeats is read once, not twice), a few thousand at
 * ten million; a false candidate only costs a little work.
 */
import { createHash } from 'node:crypto';

const BITS = 1 << 27; // 16 MiB
const HASHES = 8;

/** The SHA-256 of a key: the filter uses its first 8 bytes, src/csv/fingerprints.ts the next 12. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export class KeyFilter {
  private readonly bits = new Uint32Array(BITS / 32);

  /** Adds key; returns true when it may have been added before. */
  addAndCheck(key: string): boolean {
    return this.addDigestAndCheck(keyDigest(key));
  }

  /** Adds the key whose keyDigest() is d; returns true when it may have been added before. */
  addDigestAndCheck(d: Buffer): boolean {
    // double hashing: h_i = h1 + i * h2
    const h1 = d.readUInt32LE(0);
    const h2 = d.readUInt32LE(4) | 1;
    let seen = true;
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0 & (BITS - 1);
      const word = bit >>> 5;
      const mask = 1 << (bit & 31);
      if ((this.bits[word]! & mask) === 0) {
        seen = false;
        this.bits[word]! |= mask;
      }
    }
    return seen;
  }
}
