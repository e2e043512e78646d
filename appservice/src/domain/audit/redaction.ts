import { isValidNhsNumberDigits } from "../records/nhs-number.js";

/**
 * The audit trail must never hold message content or NHS numbers. Callers pass identifiers
 * and counts; this is the last line of defence for values that slip through.
 */
const FORBIDDEN_KEYS = new Set(["body", "formatted_body", "content", "password", "access_token", "accessToken"]);
const TEN_DIGITS = /\b(\d{3})[ -]?(\d{3})[ -]?(\d{4})\b/g;

function redactString(text: string): string {
  return text.replace(TEN_DIGITS, (match, a: string, b: string, c: string) => (isValidNhsNumberDigits(`${a}${b}${c}`) ? "[nhs-number]" : match));
}

export function redactAuditDetails(value: unknown): unknown {
  if (typeof value === "string") return redactString(value);
  if (Array.isArray(value)) return value.map(redactAuditDetails);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      out[key] = FORBIDDEN_KEYS.has(key) ? "[removed]" : redactAuditDetails(inner);
    }
    return out;
  }
  return value;
}
