import { z } from "zod";
import { duration } from "./duration.js";
import { generatedSecret } from "./secret.js";

/** The `e2ee` section of the config (issue 7). Imported by schema.ts. */
export const e2eeSchema = z
  .strictObject({
    stateKey: generatedSecret().describe(
      "Secret (at least 32 bytes) from which the key sealing the bot device's crypto state in PostgreSQL (AES-256-GCM) is derived. Losing or changing it loses the ability to read earlier encrypted messages. Env: HANDOVER__E2EE__STATE_KEY.",
    ),
    deviceDisplayName: z
      .string()
      .min(1)
      .max(100)
      .default("Handover records bot")
      .describe("The bot device's name as room members see it in their device lists.")
      .meta({ examples: ["Handover records bot"] }),
    inboxCatchUpEvery: duration()
      .refine((ms) => ms >= 1_000, { message: "expected a duration of at least 1s (e.g. 30s, 5m)" })
      .prefault("30s")
      .describe(
        "How often the bot's device reads its to-device inbox through Handover's Synapse module (deploy/synapse/modules/handover_device_inbox.py) for room keys Synapse left out of transactions while it held Handover down. Also read at every start and when a live message's key is missing.",
      )
      .meta({ examples: ["30s"] }),
  })
  .describe(
    "End-to-end encrypted rooms: the bot takes part as its own device and files encrypted conversations. Leave out to refuse encrypted rooms. Synapse needs experimental_features msc2409_to_device_messages_enabled and msc3202_transaction_extensions.",
  );

export type E2eeConfig = z.infer<typeof e2eeSchema>;
