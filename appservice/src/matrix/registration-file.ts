import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { ConfigError } from "../config/load.js";

export interface AppserviceTokens {
  asToken: string;
  hsToken: string;
  senderLocalpart: string;
}

/** Reads the tokens from the registration file the homeserver was given: one source for both sides. */
export async function readRegistrationTokens(path: string): Promise<AppserviceTokens> {
  let document: unknown;
  try {
    document = parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new ConfigError([`appservice.registrationFile: cannot read ${path}: ${(error as Error).message}`]);
  }
  const { as_token: asToken, hs_token: hsToken, sender_localpart: senderLocalpart } = (document ?? {}) as Record<string, unknown>;
  if (typeof asToken !== "string" || typeof hsToken !== "string" || typeof senderLocalpart !== "string") {
    throw new ConfigError([`appservice.registrationFile: ${path} lacks as_token, hs_token or sender_localpart`]);
  }
  return { asToken, hsToken, senderLocalpart };
}
