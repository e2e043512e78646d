import { z } from "zod";
import { parseDuration } from "./duration.js";

/** The `devices` section of the config: devices and sessions (issue 14). Imported by schema.ts. */

const duration = (example: string) =>
  z
    .string()
    .refine((text) => parseDuration(text) !== undefined, { message: "expected duration (e.g. 90s, 15m, 8h, 30d)" })
    .meta({ examples: [example] });

export const devicesSchema = z
  .strictObject({
    staleAfter: duration("90d")
      .default("90d")
      .describe("A session (device) not used for longer than this is stale: shown, counted, and ended by a stale-session sweep."),
    homeserverIncludesContent: z
      .boolean()
      .default(true)
      .describe(
        "Mirror of the homeserver's `push.include_content` (Synapse's default: true). When false, Synapse strips message content from every push, so no pusher counts as carrying content.",
      ),
    staleSweep: z
      .strictObject({
        approvalAbove: z
          .number()
          .int()
          .min(0)
          .default(20)
          .describe("A sweep that would end more stale sessions than this is held until an admin approves it (approval ends exactly the sessions it listed)."),
      })
      .default({ approvalAbove: 20 }),
    adminConcurrency: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(4)
      .describe("Most Synapse admin API calls Handover makes at once for devices and pushers, so a pass over many people never crowds out clinicians."),
  })
  .describe("Devices and sessions: who reads on which device, pushers carrying content, stale sessions.");

export type DevicesConfig = z.infer<typeof devicesSchema>;
