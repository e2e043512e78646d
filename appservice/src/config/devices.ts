import { z } from "zod";
import { duration } from "./duration.js";

/** The `devices` section of the config: devices and sessions (issue 14). Imported by schema.ts. */

/**
 * Red/amber/green bounds of one posture measure. "higher" is better for verified devices: at
 * least `amber` is green, at least `red` amber, below red. For the others lower is better: at
 * most `amber` is green, at most `red` amber, above red.
 */
function threshold(better: "higher" | "lower", amber: number, red: number, what: string) {
  return z
    .strictObject({ amber: z.number().min(0).default(amber), red: z.number().min(0).default(red) })
    .refine((bounds) => (better === "higher" ? bounds.red <= bounds.amber : bounds.red >= bounds.amber), {
      message: better === "higher" ? "red must not be above amber (higher is better)" : "red must not be below amber (lower is better)",
    })
    .default({ amber, red })
    .describe(`${what}: ${better === "higher" ? "green at or above amber, red below red" : "green at or below amber, red above red"}.`);
}

export const devicesSchema = z
  .strictObject({
    staleAfter: duration()
      .prefault("90d")
      .describe("A session (device) not used for longer than this is stale: shown, counted, and ended by a stale-session sweep."),
    homeserverIncludesContent: z
      .boolean()
      .default(true)
      .describe(
        "The homeserver's `push.include_content` (Synapse's default: true), used when the push probe is off or cannot run. When false, Synapse strips message content from every push, so no pusher counts as carrying content.",
      ),
    pushProbe: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "Find out what the homeserver really puts into pushes: a probe account (@handover-push-probe) gets an HTTP pusher whose gateway is a loopback listener of Handover's, the bot messages it, and Handover reads the push. The homeserver must be allowed to reach 127.0.0.1 (Synapse's ip_range_whitelist).",
          ),
        every: duration().prefault("24h").describe("How often the probe runs (also once at start)."),
        timeout: duration().prefault("30s").describe("How long to wait for the homeserver's push before falling back to homeserverIncludesContent."),
      })
      .prefault({}),
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
    posture: z
      .strictObject({
        interval: duration()
          .refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, {
            message: "expected a duration from 1m to 7d (e.g. 24h)",
          })
          .prefault("24h")
          .describe(
            "How often the trust-wide posture pass runs and saves the day's snapshot. Most passes are incremental (only people active since their last read are read again), so a short interval is cheap.",
          ),
        fullEvery: duration()
          .prefault("7d")
          .describe(
            "A pass reads everyone when the last such full pass is older than this; the passes between re-read only people whose devices, pushers or cross-signing can have changed.",
          ),
        thresholds: z
          .strictObject({
            devicesVerified: threshold("higher", 0.9, 0.75, "Share of devices cross-signed by their owner"),
            pushersCarryingContent: threshold("lower", 0.05, 0.2, "Share of pushers whose notifications carry message content"),
            staleSessions: threshold("lower", 0.1, 0.25, "Share of devices not used for longer than staleAfter"),
            leaversWithSessions: threshold("lower", 0, 2, "Number of people who left (directory) and still have sessions"),
          })
          .prefault({}),
      })
      .prefault({})
      .describe("Trust-wide posture: a daily snapshot of the counts, each rated green, amber or red."),
    spotChecks: z
      .strictObject({
        every: duration().prefault("30d").describe("How often a spot check starts on its own (default monthly); the IG lead can start one at any time too."),
        people: z.number().int().min(1).max(500).default(10).describe("How many people, chosen at random, a scheduled spot check samples."),
        groups: z
          .array(z.string().trim().min(1).max(200))
          .max(50)
          .default([])
          .refine((names) => new Set(names.map((name) => name.toLowerCase())).size === names.length, { message: "each group once (names compare in any case)" })
          .describe(
            "Directory groups (as directory sync knows them) to sample on the schedule: one spot check per group, each of `people` people of that group. Empty: one spot check of everyone.",
          ),
      })
      .prefault({})
      .describe("Spot checks of staff devices: a random sample, each person's server-visible posture against the policy, and a checklist the IG lead records."),
    sessionNotices: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "After an admin signs out a device or a lost or stolen phone, the bot tells the person in a direct room (the remaining devices see it at once; after a lost phone it is the first thing they see when they sign in again).",
          ),
        includeReason: z
          .boolean()
          .default(false)
          .describe(
            "Put the admin's reason into the notice. Off by default: the reason is free text written for the audit trail and may name a patient, which must not reach a phone or a push service.",
          ),
      })
      .prefault({}),
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
