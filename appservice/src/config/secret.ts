import { z } from "zod";

/**
 * Secrets in the config. The sample (config.sample.yaml) shows a placeholder for each, and a
 * placeholder copied into a live config would be a secret everyone who has read the sample
 * knows: refused, naming the key, like a secret too short to resist guessing.
 */

const MIN_SECRET_BYTES = 32;

/** Every placeholder the sample shows for a secret; also the examples the schema gives. */
export const SECRET_PLACEHOLDERS = {
  generated: "change-me-to-a-long-random-secret-0123456789",
  scimToken: "a-long-random-secret-of-at-least-32-characters",
  adminAccessToken: "syt_...",
  databasePassword: "secret",
  bindPassword: "from-an-environment-variable",
} as const;

const PLACEHOLDER_VALUES: ReadonlySet<string> = new Set(Object.values(SECRET_PLACEHOLDERS));

/** A value anyone who has read the sample or the docs could guess. */
export function isPlaceholderSecret(value: string): boolean {
  return PLACEHOLDER_VALUES.has(value) || /change[-_ ]?me/i.test(value);
}

const PLACEHOLDER_MESSAGE = "is a placeholder from the sample; generate a secret (e.g. `openssl rand -hex 32`)";

/**
 * A secret the trust makes for Handover (a key, a token Handover checks): long and random.
 * Measured in bytes, as the key derivations and comparisons use bytes.
 */
export const generatedSecret = (example: string = SECRET_PLACEHOLDERS.generated) =>
  z
    .string()
    .refine((value) => !isPlaceholderSecret(value), { message: PLACEHOLDER_MESSAGE, abort: true })
    .refine((value) => Buffer.byteLength(value, "utf8") >= MIN_SECRET_BYTES, {
      message: `expected a long random secret of at least ${MIN_SECRET_BYTES} bytes (e.g. \`openssl rand -hex 32\`)`,
    })
    .meta({ examples: [example] });

/** A secret another system issues (Synapse's access token, an LDAP password): its length is not Handover's to choose. */
export const issuedSecret = (example: string) =>
  z
    .string()
    .min(1)
    .refine((value) => !isPlaceholderSecret(value), { message: PLACEHOLDER_MESSAGE })
    .meta({ examples: [example] });

/** The password inside a postgres:// URL, when there is one. */
export function databasePassword(url: string): string | null {
  try {
    const password = new URL(url).password;
    return password === "" ? null : decodeURIComponent(password);
  } catch {
    return null;
  }
}
