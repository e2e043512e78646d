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
  /** MSC3202: device lists and one-time key counts of the bot's device in transactions. */
  "org.matrix.msc3202"?: boolean;
  /** MSC4190: the appservice creates and deletes the bot's devices itself. */
  "io.element.msc4190"?: boolean;
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
 * Synapse sends Handover every event in rooms the bot is in. The last three keys let the bot
 * take part in end-to-end encrypted rooms as a device (docs/e2ee.md): to-device events
 * (MSC2409/MSC4203, with Synapse's `msc2409_to_device_messages_enabled`), device lists and key
 * counts (MSC3202, with `msc3202_transaction_extensions`) and device management (MSC4190).
 * `AppServiceRegistration.getOutput()` of matrix-appservice drops them, hence this writer.
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
    receive_ephemeral: true,
    "org.matrix.msc3202": true,
    "io.element.msc4190": true,
  };
}

export function renderRegistration(registration: Registration): string {
  return `# Handover appservice registration: give this file to Synapse (app_service_config_files).\n${stringify(registration)}`;
}
