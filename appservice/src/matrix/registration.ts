import { randomBytes } from "node:crypto";
import { stringify } from "yaml";

/** The appservice registration file Synapse reads (`app_service_config_files`). */
export interface Registration {
  id: string;
  url: string;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  rate_limited: boolean;
  namespaces: {
    users: { regex: string; exclusive: boolean }[];
    aliases: { regex: string; exclusive: boolean }[];
    rooms: { regex: string; exclusive: boolean }[];
  };
  receive_ephemeral?: boolean;
}

export interface RegistrationInput {
  id: string;
  /** Where the homeserver reaches Handover's transaction endpoint. */
  url: string;
  serverName: string;
  botLocalpart: string;
  asToken?: string;
  hsToken?: string;
}

export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Handover claims exactly one user, its bot, exclusively: nobody else can register it and
 * Synapse sends Handover every event in rooms the bot is in.
 */
export function buildRegistration(input: RegistrationInput): Registration {
  return {
    id: input.id,
    url: input.url,
    as_token: input.asToken ?? generateToken(),
    hs_token: input.hsToken ?? generateToken(),
    sender_localpart: input.botLocalpart,
    rate_limited: false,
    namespaces: {
      users: [{ regex: `^@${escapeRegex(input.botLocalpart)}:${escapeRegex(input.serverName)}$`, exclusive: true }],
      aliases: [],
      rooms: [],
    },
  };
}

export function renderRegistration(registration: Registration): string {
  return `# Handover appservice registration: give this file to Synapse (app_service_config_files).\n${stringify(registration)}`;
}
