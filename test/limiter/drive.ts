/**
 * Load for the limiter tests: `loops` concurrent callers that each send one request
 * after another through the gate for `durationMs`, feeding every answer's headers back
 * with observe(), as the Okta client does.
 */
import { request } from 'undici';
import { parseRateLimit } from '../../src/okta/rate-limit-headers.js';
import type { Bucket, RequestGate } from '../../src/okta/types.js';

export interface DriveResult {
  sent: number;
  status429: number;
  /** Epoch ms at which each permit was granted (fn started). */
  grants: number[];
}

export async function drive(
  gate: RequestGate,
  url: string,
  opts: { loops: number; durationMs: number; bucket?: Bucket },
): Promise<DriveResult> {
  const bucket = opts.bucket ?? 'factors';
  const until = Date.now() + opts.durationMs;
  const result: DriveResult = { sent: 0, status429: 0, grants: [] };
  const loop = async (): Promise<void> => {
    while (Date.now() < until) {
      await gate.run(bucket, async () => {
        if (Date.now() >= until) return;
        result.grants.push(Date.now());
        result.sent++;
        const res = await request(url);
        await res.body.dump();
        const info = parseRateLimit(res.headers);
        if (res.statusCode === 429) result.status429++;
        if (info) gate.observe?.(bucket, info, res.statusCode);
      });
    }
  };
  await Promise.all(Array.from({ length: opts.loops }, loop));
  return result;
}
