/**
 * A pass-through stream that refuses what is not UTF-8 text before the CSV parser
 * sees it: NUL bytes (binary files), invalid UTF-8 (Latin-1 / Windows-1252 exports),
 * UTF-16 (Excel's "Unicode text"), ZIP/XLSX workbooks and other binary signatures,
 * bare-CR line endings. It checks every chunk, not only the first, and names the line
 * and byte offset of the first bad byte.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { InputFileError } from '../errors.js';

const SIGNATURES: Array<[Buffer, string]> = [
  [Buffer.from([0x50, 0x4b, 0x03, 0x04]), 'this is a ZIP file (an Excel .xlsx workbook?), not CSV text; export it as "CSV UTF-8"'],
  [Buffer.from([0xd0, 0xcf, 0x11, 0xe0]), 'this is an old Excel/Office .xls file, not CSV text; export it as "CSV UTF-8"'],
  [Buffer.from('%PDF'), 'this is a PDF file, not CSV text'],
  [Buffer.from([0x1f, 0x8b]), 'this is a gzip-compressed file, not CSV text; decompress it first'],
  [Buffer.from([0xff, 0xfe]), 'the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); save it as "CSV UTF-8"'],
  [Buffer.from([0xfe, 0xff]), 'the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); save it as "CSV UTF-8"'],
];

/** Byte offset of the first invalid UTF-8 sequence in buf (only used on the error path). */
function firstInvalidUtf8(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) { i++; continue; }
    else if (b >= 0xc2 && b <= 0xdf) { need = 1; min = 0x80; }
    else if (b >= 0xe0 && b <= 0xef) { need = 2; min = 0x800; }
    else if (b >= 0xf0 && b <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

export class ByteGuard extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  /** Line breaks (LF) seen so far. */
  private lf = 0;
  private sawCr = false;
  private first = true;
  private decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** The bytes not yet known to be valid: what the decoder is holding back (at most 3). */
  private tail = Buffer.alloc(0);

  constructor(private readonly file: string) {
    super();
  }

  private fail(message: string, line?: number): InputFileError {
    return new InputFileError(this.file, message, line);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.first) {
      this.first = false;
      for (const [sig, message] of SIGNATURES) {
        if (chunk.length >= sig.length && chunk.subarray(0, sig.length).equals(sig)) return done(this.fail(message));
      }
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1) {
      const line = this.lineAt(chunk, nul);
      return done(this.fail(`found a NUL byte at byte offset ${this.bytes + nul}: this looks like a binary file, not CSV text`, line));
    }
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      return done(this.invalidUtf8(chunk));
    }
    const recent = chunk.length >= 3 ? chunk : Buffer.concat([this.tail, chunk]);
    this.tail = Buffer.from(recent.subarray(recent.length - incompleteTail(recent)));
    if (!this.sawCr && chunk.includes(0x0d)) this.sawCr = true;
    this.lf += countLf(chunk);
    this.bytes += chunk.length;
    if (this.sawCr && this.lf === 0 && this.bytes > 4096) {
      return done(this.fail('the file uses bare CR (classic Mac) line endings; save it with LF or CRLF line endings ("CSV UTF-8")'));
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.decode();
    } catch {
      return done(this.fail(`the file ends in the middle of a UTF-8 character (byte offset ${this.bytes - 1}); it is truncated or not UTF-8`, this.lf + 1));
    }
    if (this.sawCr && this.lf === 0) {
      return done(this.fail('the file uses bare CR (classic Mac) line endings; save it with LF or CRLF line endings ("CSV UTF-8")'));
    }
    done();
  }

  private lineAt(chunk: Buffer, offset: number): number {
    return this.lf + countLf(chunk.subarray(0, offset)) + 1;
  }

  private invalidUtf8(chunk: Buffer): InputFileError {
    // Re-check the held-back bytes of the previous chunk together with this one.
    const held = this.tail;
    const joined = Buffer.concat([held, chunk]);
    let at = firstInvalidUtf8(joined);
    if (at === -1) at = held.length; // cannot happen; point at this chunk's start
    const inChunk = Math.max(0, at - held.length);
    const byte = joined[at] ?? 0;
    return this.fail(
      `the file is not valid UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')} at byte offset ${this.bytes - held.length + at}); ` +
        'save it as "CSV UTF-8" (a Latin-1 or Windows-1252 export looks like this)',
      this.lineAt(chunk, inChunk),
    );
  }
}

/** How many bytes at the end of buf start a UTF-8 sequence that is not complete yet. */
function incompleteTail(buf: Buffer): number {
  for (let k = 1; k <= 3 && k <= buf.length; k++) {
    const b = buf[buf.length - k]!;
    if ((b & 0xc0) === 0x80) continue;
    if (b < 0xc0) return 0;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return need > k ? k : 0;
  }
  return 0;
}

function countLf(buf: Buffer): number {
  let n = 0;
  let i = buf.indexOf(0x0a);
  while (i !== -1) {
    n++;
    i = buf.indexOf(0x0a, i + 1);
  }
  return n;
}
