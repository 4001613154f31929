/**
 * Bounded, order-keeping concurrency over a stream: at most `concurrency` calls of
 * `fn` at once, results yielded in the source's order. The source is pulled one item
 * at a time (never two `next()` calls at once), and only as far ahead as the window,
 * so a paged source (a group's members) is read page by page, never all at once.
 */
export async function* mapOrdered<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`mapOrdered: expected \`concurrency\` to be an integer >= 1, got \`${String(concurrency)}\``);
  }
  const it = (Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]()) as
    | AsyncIterator<T>
    | Iterator<T>;
  const window: Array<Promise<R>> = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && window.length < concurrency) {
        const next = await it.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const p = fn(next.value);
        p.catch(() => {}); // awaited in order below; this only keeps a later rejection from being unhandled meanwhile
        window.push(p);
      }
      const head = window.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    // Stopped early (an error, or the consumer returned): let calls in flight end before returning.
    await Promise.allSettled(window);
    if (!exhausted) await it.return?.();
  }
}
