import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;
const EXPECTED = "expected a duration such as 90s, 15m, 8h or 30d";

/** Parses "90s", "15m", "8h", "30d", "2w" into milliseconds; undefined when malformed. */
function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
}

/**
 * Milliseconds of a duration a schema has already checked (an API body): malformed here is a
 * bug, so it throws rather than let a fallback stand in for what the person asked for.
 */
export function checkedDurationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return ms;
}

/** The way people write durations, in days rather than weeks: retention periods read "14d", "90d". */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    if (ms > 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return ms === 0 ? "0s" : `${ms}ms`;
}

/**
 * A duration in the config, read once at load into milliseconds. People write "90s", "15m",
 * "8h", "30d"; anything else is refused with the key named. A bare number is refused too: its
 * unit would be a guess, and `maxAge: 30` read as milliseconds would delete nearly everything.
 * Give defaults with `.prefault("15m")` so they are written, and checked, the way people
 * write them.
 */
export const duration = () =>
  z.union([z.string(), z.number()], { error: EXPECTED }).transform((value, context) => {
    const ms = typeof value === "string" ? parseDuration(value) : undefined;
    if (ms === undefined) {
      const message =
        typeof value === "number"
          ? `expected a duration with its unit, such as 90s, 15m, 8h or 30d, not the bare number ${value}`
          : `${EXPECTED}, not ${JSON.stringify(value)}`;
      context.addIssue({ code: "custom", message });
      return z.NEVER;
    }
    return ms;
  });
