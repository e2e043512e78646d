/**
 * NHS numbers: ten digits whose last is a modulus 11 check digit. People write them with spaces
 * or dashes ("943 476 5919"); Handover stores the ten digits and shows them in 3-3-4 groups.
 */
export const NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number";

/** Ten digits that passed the modulus 11 check. */
export type NhsNumber = string & { readonly __brand: "NhsNumber" };

export type NhsNumberProblem = "not-ten-digits" | "check-digit";

export function isValidNhsNumberDigits(digits: string): boolean {
  if (!/^\d{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i);
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === Number(digits[9]);
}

/** Parses what a person typed; spaces and dashes between digits are allowed. */
export function parseNhsNumber(text: string): { ok: true; value: NhsNumber } | { ok: false; problem: NhsNumberProblem } {
  const trimmed = text.trim();
  if (!/^[\d -]+$/.test(trimmed)) return { ok: false, problem: "not-ten-digits" };
  const digits = trimmed.replace(/[ -]/g, "");
  if (digits.length !== 10) return { ok: false, problem: "not-ten-digits" };
  if (!isValidNhsNumberDigits(digits)) return { ok: false, problem: "check-digit" };
  return { ok: true, value: digits as NhsNumber };
}

export function describeNhsNumberProblem(problem: NhsNumberProblem): string {
  return problem === "check-digit"
    ? "That is not a valid NHS number: its check digit does not match (modulus 11). Check the number and try again."
    : "An NHS number has 10 digits, e.g. 943 476 5919 (spaces or dashes allowed).";
}

/** "943 476 5919". */
export function formatNhsNumber(value: NhsNumber | string): string {
  return `${value.slice(0, 3)} ${value.slice(3, 6)} ${value.slice(6)}`;
}
