import { z } from "zod";
import { duration } from "./duration.js";

/** The `retention` section of the config (issue 3). Imported by schema.ts. */

const rulesSchema = (defaults: { maxAge: string | null; deleteAfterFiling: string | null; allowUnfiledDeletion: boolean }) =>
  z.strictObject({
    maxAge: duration()
      .nullable()
      .prefault(defaults.maxAge)
      .describe("Messages older than this are deleted (null: no age limit). In clinical rooms, only filed content unless allowUnfiledDeletion."),
    deleteAfterFiling: duration()
      .nullable()
      .prefault(defaults.deleteAfterFiling)
      .describe("Filed content is deleted this long after it was filed in the record (null: filing does not trigger deletion)."),
    allowUnfiledDeletion: z
      .boolean()
      .default(defaults.allowUnfiledDeletion)
      .describe("Clinical rooms: may content never filed be deleted at maxAge? The room is warned warnBefore in advance."),
    minAge: duration().prefault("0s").describe("Nothing younger than this is deleted, filed or not."),
    warnBefore: duration().prefault("3d").describe("How long before unfiled clinical content is deleted the room is warned."),
  });

const clinicalDefaults = { maxAge: "30d", deleteAfterFiling: "24h", allowUnfiledDeletion: false };
const operationalDefaults = { maxAge: "90d", deleteAfterFiling: null, allowUnfiledDeletion: true };

export const retentionSchema = z
  .strictObject({
    sweepInterval: duration().prefault("15s").describe("How often due rooms are found and purged (one Handover process at a time)."),
    purgePollInterval: duration().prefault("1s").describe("How often a running Synapse purge is polled."),
    purgeFirstPoll: duration()
      .prefault("50ms")
      .describe("How soon after a purge call its status is first asked; then at doubling intervals up to purgePollInterval."),
    purgeTimeout: duration().prefault("10m").describe("Stop waiting for a purge after this long; the next sweep resumes it."),
    maxPurgesPerSweep: z.number().int().min(1).max(1000).default(20).describe("Rooms purged per sweep at most; the rest wait for the next."),
    purgeSliceEvents: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(500)
      .describe(
        "Messages deleted per Synapse purge call: a room's deletion is made in slices this size, each checked against legal holds first, so clinicians in the room never wait long behind it.",
      ),
    purgeConcurrency: z
      .number()
      .int()
      .min(1)
      .max(32)
      .default(1)
      .describe(
        "Deletion steps (a page of history, a purge call and its wait) sent to Synapse at once at most. Each is followed by a rest as long as it kept Synapse busy, longer while the pace probe is slow; above 1, more steps run at once only while the probe stays quick.",
      ),
    purgeProbeInterval: duration()
      .prefault("250ms")
      .describe(
        "While a sweep deletes, a small write of Handover's admin account (its account data) is timed this often: when it slows, the sweep rests longer between slices, so clinicians' messages do not wait behind deletions.",
      ),
    historyPageSize: z
      .number()
      .int()
      .min(10)
      .max(1000)
      .default(50)
      .describe("Events per page when retention reads a room's history: Synapse builds a page in one go, and clinicians' requests wait behind it."),
    warningGranularity: duration()
      .prefault("1d")
      .describe("Deletion dates in warnings are rounded up to this, so a room gets one warning per date rather than one per message."),
    publishRoomRetention: z.boolean().default(true).describe("Publish each room's effective policy as m.room.retention state."),
    publishPerSweep: z.number().int().min(0).max(10_000).default(50).describe("Rooms whose m.room.retention is (re)published per sweep at most."),
    defaults: z
      .strictObject({
        clinical: rulesSchema(clinicalDefaults).prefault({}).describe("Default policy for clinical rooms."),
        operational: rulesSchema(operationalDefaults).prefault({}).describe("Default policy for operational rooms."),
      })
      .prefault({})
      .describe("Shipped default policies by room kind; policies made in the portal override them."),
  })
  .describe(
    "Retention: deletes messages once filed or past their maximum age, with evidence. Leave out to keep everything (policies can still be prepared and previewed).",
  );

export type RetentionConfig = z.infer<typeof retentionSchema>;
