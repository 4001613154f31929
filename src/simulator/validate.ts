/**
 * The small checks every option validation of the simulator shares, and the one
 * wording of a problem: "Expected `name` to be <what>, got `<value>`", so the CLI can
 * put its flag name in front and every problem is listed at once.
 */

export function isInt(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

export function isRatio(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
}

export function show(v: unknown): string {
  return `\`${Array.isArray(v) || (v !== null && typeof v === 'object') ? JSON.stringify(v) : String(v)}\``;
}

/** Collects problems; `need(ok, name, expected, got)` adds one when `ok` is false. */
export function problemList(): { problems: string[]; need(ok: boolean, name: string, expected: string, got: unknown): void } {
  const problems: string[] = [];
  return {
    problems,
    need(ok, name, expected, got) {
      if (!ok) problems.push(`Expected \`${name}\` to be ${expected}, got ${show(got)}`);
    },
  };
}
