/**
 * Okta's clock minus this machine's, learned from the Date headers of answers.
 *
 * One answer says little: Date has whole seconds (the server's time was somewhere in
 * [Date, Date + 1 s)) and the server wrote it at some moment between our send and our
 * receive. So each answer bounds the offset:
 *     Date − receivedAt  <  offset  <  Date + 1000 − sentAt
 * and the bounds of successive answers are intersected. Answers whose Date ticks over at
 * different moments of our second narrow the interval to about the request latency.
 * The estimate is the interval's midpoint.
 *
 * Clocks drift and get stepped (NTP): the kept bounds widen by DRIFT per elapsed
 * millisecond, and an answer that contradicts them replaces them.
 */

/** How fast kept bounds loosen: 100 ppm, well above a quartz clock's drift. */
export const DRIFT = 1e-4;

/** One Date header's resolution. */
const SECOND = 1000;

export class ClockOffset {
  private lo = -Infinity;
  private hi = Infinity;
  /** Local time of the last update (for the drift allowance). */
  private at = 0;
  private known = false;

  /**
   * One answer: its Date header, when the request was handed to the connection and when
   * the answer's headers arrived (both epoch ms on the local clock). Ignores a missing or
   * unreadable Date.
   */
  observe(date: string | string[] | undefined, sentAt: number, receivedAt: number): void {
    const text = Array.isArray(date) ? date[0] : date;
    if (!text) return;
    const serverMs = Date.parse(text);
    if (!Number.isFinite(serverMs) || !(receivedAt >= sentAt)) return;
    // Date has no fraction; a server that sends one anyway is read at whole seconds too.
    const secondStart = Math.floor(serverMs / SECOND) * SECOND;
    const lo = secondStart - receivedAt;
    const hi = secondStart + SECOND - sentAt;
    if (this.known) {
      const slack = Math.max(0, receivedAt - this.at) * DRIFT;
      const keptLo = this.lo - slack;
      const keptHi = this.hi + slack;
      if (lo <= keptHi && hi >= keptLo) {
        this.lo = Math.max(keptLo, lo);
        this.hi = Math.min(keptHi, hi);
        this.at = receivedAt;
        return;
      }
      // A contradiction: one of the clocks was stepped. Start again from this answer.
    }
    this.lo = lo;
    this.hi = hi;
    this.at = receivedAt;
    this.known = true;
  }

  /** The estimate in ms (0 before any answer carried a Date). */
  get offsetMs(): number {
    return this.known ? Math.round((this.lo + this.hi) / 2) : 0;
  }

  /** Width of the interval the offset is known to lie in (ms); Infinity before any answer. */
  get uncertaintyMs(): number {
    return this.known ? this.hi - this.lo : Infinity;
  }
}
