/**
 * Reads an answer's body up to a cap per endpoint, so a broken or hostile server cannot
 * make the runner hold a huge answer in memory: the body is streamed, and past the cap
 * (or when Content-Length already says it would be) the stream, and with it the
 * connection, is destroyed and OktaProtocolError (BAD_RESPONSE) names the cap.
 */
import type { Readable } from 'node:stream';
import { OktaProtocolError } from './errors.js';
import type { Bucket } from './types.js';

const MiB = 1024 * 1024;

/** Largest body read per bucket: one factor (or a user's list) is a few kB; a page of 200 users or 1,000 log events a few MB. */
export const BODY_CAPS: Readonly<Record<Bucket, number>> = Object.freeze({
  factors: 1 * MiB,
  users: 8 * MiB,
  groups: 8 * MiB,
  logs: 16 * MiB,
  oauth: 1 * MiB,
});

export function formatBytes(n: number): string {
  return n % MiB === 0 ? `${n / MiB} MB` : n >= MiB ? `${(n / MiB).toFixed(1)} MB` : `${Math.ceil(n / 1024)} kB`;
}

function tooLarge(cap: number, bucket: Bucket, method: string, path: string, declared?: number): OktaProtocolError {
  const size = declared !== undefined ? `declares ${formatBytes(declared)}, ` : '';
  return new OktaProtocolError(
    `the answer's body ${size}more than the ${formatBytes(cap)} read at most from ${bucket} endpoints; connection closed without reading the rest`,
    method,
    path,
  );
}

/**
 * The body as text (UTF-8), at most `cap` bytes. `contentLength` is the answer's header,
 * if any. Throws OktaProtocolError past the cap, after destroying the stream.
 */
export async function readCapped(
  body: Readable,
  contentLength: string | string[] | undefined,
  cap: number,
  where: { bucket: Bucket; method: string; path: string },
): Promise<string> {
  const declared = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (contentLength !== undefined && Number.isFinite(declared) && declared > cap) {
    body.destroy();
    throw tooLarge(cap, where.bucket, where.method, where.path, declared);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > cap) {
      body.destroy();
      throw tooLarge(cap, where.bucket, where.method, where.path);
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
}
