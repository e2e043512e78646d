/** A suite's measured figures by dotted name, and the targets they are judged against. */
export type Figures = Record<string, number>;

export interface Target {
  figure: string;
  op: "<" | "<=" | ">=" | "=";
  value: number;
}

export interface SuiteResult {
  figures: Figures;
  targets: Target[];
  notes?: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

export function meets(target: Target, actual: number | undefined): boolean {
  if (actual === undefined || Number.isNaN(actual)) return false;
  switch (target.op) {
    case "<":
      return actual < target.value;
    case "<=":
      return actual <= target.value;
    case ">=":
      return actual >= target.value;
    case "=":
      return actual === target.value;
  }
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
