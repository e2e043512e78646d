/**
 * Devices and sessions (issue 14): each person's devices, pushers and cross-signing, and the
 * actions that end sessions. The words are the domain's (domain/devices): the schemas are built
 * from its lists and checked against its types. Imports only zod and those vocabulary files,
 * which import nothing: the portal bundles it.
 */
import { z } from "zod";
import {
  type DeviceView,
  DIRECTORY_STANDINGS,
  type PersonDevices,
  type PusherView,
  type SignOutResult,
  STALE_SWEEP_STATUSES,
  type StaleSweep,
} from "../domain/devices/person-devices.js";
import {
  type HomeserverPushContent,
  POSTURE_DIRECTIONS,
  POSTURE_METRIC_NAMES,
  POSTURE_PASS_KINDS,
  POSTURE_RATINGS,
  type Posture,
  type PostureCounts,
  type PostureMetric,
} from "../domain/devices/posture-metrics.js";
import type { RouteContract } from "./contract-shared.js";

const READERS = ["admin", "ig-lead", "auditor"] as const;
const ACTORS = ["admin"] as const;

export const deviceViewSchema = z.object({
  deviceId: z.string(),
  displayName: z.string().nullable(),
  /** Readable app and system from the user agent ("Element on Android"). */
  client: z.string(),
  userAgent: z.string().nullable(),
  lastSeenAt: z.iso.datetime().nullable(),
  lastAddress: z.string().nullable(),
  /**
   * When Handover first saw the device (a posture pass), not when it was created: Synapse does
   * not say. Equal to the person's `watchingSince` when the device was already there; null when
   * no pass has seen it yet.
   */
  firstSeenAt: z.iso.datetime().nullable(),
  /** Signed by the person's own self-signing key (they verified this device). */
  crossSigned: z.boolean(),
  /** Not used for longer than `devices.staleAfter`. */
  stale: z.boolean(),
}) satisfies z.ZodType<DeviceView>;

export const pusherViewSchema = z.object({
  kind: z.string(),
  appId: z.string(),
  appDisplayName: z.string().nullable(),
  deviceDisplayName: z.string().nullable(),
  format: z.string().nullable(),
  /** Push notifications carry message content (through Apple's or Google's servers onto a lock screen). */
  carriesContent: z.boolean(),
}) satisfies z.ZodType<PusherView>;

export const personDevicesSchema = z.object({
  userId: z.string(),
  displayName: z.string().nullable(),
  directory: z.enum(DIRECTORY_STANDINGS),
  hasCrossSigningIdentity: z.boolean(),
  /** When Handover started watching devices (its first posture pass); null before the first. */
  watchingSince: z.iso.datetime().nullable(),
  devices: z.array(deviceViewSchema),
  pushers: z.array(pusherViewSchema),
  staleSessions: z.number().int(),
  devicesNotCrossSigned: z.number().int(),
  pushersCarryingContent: z.number().int(),
}) satisfies z.ZodType<PersonDevices>;

export const devicePeopleQuerySchema = z.strictObject({
  search: z.string().trim().max(100).optional().describe("Part of a person's user ID or display name."),
  room: z
    .string()
    .regex(/^![^\s]+$/, { message: "expected a Matrix room ID like !abc:server" })
    .optional()
    .describe("Only people of this trust who are members of this room (a ward's room, say)."),
  group: z.string().trim().min(1).max(200).optional().describe("Only people in this directory group (as directory sync knows it; any case)."),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
export type DevicePeopleQuery = z.input<typeof devicePeopleQuerySchema>;

/** What the homeserver does with message content in pushes (Synapse's `push.include_content`), and how Handover knows. */
export const homeserverPushContentSchema = z.object({
  includesContent: z.boolean(),
  /** "probe": Handover saw a push from the homeserver; "config": `devices.homeserverIncludesContent` (no probe, or it could not run). */
  source: z.enum(["probe", "config"]),
  checkedAt: z.iso.datetime().nullable(),
  /** Why the answer is the config's (the probe is off, has not run yet, or failed). */
  note: z.string().nullable(),
}) satisfies z.ZodType<HomeserverPushContent>;

export const devicePeopleSchema = z.object({
  homeserverPush: homeserverPushContentSchema,
  people: z.array(personDevicesSchema),
  /** The configured age after which a session counts as stale (e.g. "90d"). */
  staleAfter: z.string(),
});
export type DevicePeople = z.infer<typeof devicePeopleSchema>;

const userIdSchema = z.string().regex(/^@[^\s:]+:\S+$/, { message: "expected a Matrix user ID like @alice:trust.example" });
export const personParamsSchema = z.strictObject({ userId: userIdSchema });
export const deviceParamsSchema = z.strictObject({ userId: userIdSchema, deviceId: z.string().min(1).max(255) });
export const staleSweepParamsSchema = z.strictObject({ sweepId: z.coerce.number().int().positive() });

export const deviceActionRequestSchema = z.strictObject({
  reason: z.string().trim().min(3, { message: "say why (at least 3 characters): it goes into the audit trail" }).max(500),
});
export type DeviceActionRequest = z.infer<typeof deviceActionRequestSchema>;

export const signOutResultSchema = z.object({
  userId: z.string(),
  signedOut: z.array(z.string()),
  /** Pushers still registered after the sign-out (Synapse removes a device's pushers with it). */
  pushersRemaining: z.number().int(),
  pushersRemoved: z.number().int(),
}) satisfies z.ZodType<SignOutResult>;

export const staleSweepRequestSchema = z.strictObject({
  reason: deviceActionRequestSchema.shape.reason,
  search: z.string().trim().min(1).max(100).optional().describe("Only people whose user ID or display name contains this."),
});
export type StaleSweepRequest = z.infer<typeof staleSweepRequestSchema>;

export const staleSweepSchema = z.object({
  id: z.number().int(),
  status: z.enum(STALE_SWEEP_STATUSES),
  requestedBy: z.string(),
  requestedAt: z.iso.datetime(),
  reason: z.string(),
  sessions: z.array(z.object({ userId: z.string(), deviceId: z.string(), lastSeenAt: z.iso.datetime().nullable() })),
  /** Sweeps ending more sessions than this wait for an admin's approval (`devices.staleSweep.approvalAbove`). */
  approvalAbove: z.number().int(),
  decidedBy: z.string().nullable(),
  decidedAt: z.iso.datetime().nullable(),
}) satisfies z.ZodType<StaleSweep>;

export const staleSweepListSchema = z.object({ sweeps: z.array(staleSweepSchema) });
export type StaleSweepList = z.infer<typeof staleSweepListSchema>;

export const postureCountsSchema = z.object({
  people: z.number().int(),
  peopleWithDevices: z.number().int(),
  devices: z.number().int(),
  devicesCrossSigned: z.number().int(),
  pushers: z.number().int(),
  pushersCarryingContent: z.number().int(),
  staleSessions: z.number().int(),
  /** People directory sync marked as left. */
  leavers: z.number().int(),
  leaversWithSessions: z.number().int(),
}) satisfies z.ZodType<PostureCounts>;

export const postureMetricSchema = z.object({
  name: z.enum(POSTURE_METRIC_NAMES),
  better: z.enum(POSTURE_DIRECTIONS),
  count: z.number().int(),
  /** What the count is a share of; null for a plain count (leavers with sessions). */
  total: z.number().int().nullable(),
  /** The share (0..1), or the count when there is no total; null when the total is 0. */
  value: z.number().nullable(),
  rating: z.enum(POSTURE_RATINGS),
  amber: z.number(),
  red: z.number(),
}) satisfies z.ZodType<PostureMetric>;

export const postureSchema = z.object({
  homeserverPush: homeserverPushContentSchema,
  latest: z
    .object({
      day: z.iso.date(),
      takenAt: z.iso.datetime(),
      adminCalls: z.number().int(),
      /** "full" read everyone; "incremental" re-read only people whose state can have changed since the last pass. */
      kind: z.enum(POSTURE_PASS_KINDS),
      /** People whose devices and pushers the pass read from Synapse. */
      peopleRead: z.number().int(),
      /** Synapse admin API calls per person in the pass. */
      adminCallsPerPerson: z.number().nullable(),
      counts: postureCountsSchema,
      metrics: z.array(postureMetricSchema),
    })
    .nullable(),
  /** One point per day with a snapshot, oldest first: each metric's value that day. */
  history: z.array(z.object({ day: z.iso.date(), values: z.record(z.enum(POSTURE_METRIC_NAMES), z.number().nullable()) })),
}) satisfies z.ZodType<Posture>;

export const DEVICES_API = {
  listDevicePeople: {
    method: "get",
    path: "/devices/people",
    summary: "People with their devices, pushers and cross-signing (search by name)",
    access: READERS,
    query: devicePeopleQuerySchema,
    response: devicePeopleSchema,
  },
  getDevicePerson: {
    method: "get",
    path: "/devices/people/:userId",
    summary: "One person's devices, pushers and cross-signing",
    access: READERS,
    params: personParamsSchema,
    response: personDevicesSchema,
  },
  signOutDevice: {
    method: "post",
    path: "/devices/people/:userId/devices/:deviceId/sign-out",
    summary: "Sign out one device (audited with the reason)",
    access: ACTORS,
    params: deviceParamsSchema,
    body: deviceActionRequestSchema,
    response: signOutResultSchema,
  },
  signOutLostPhone: {
    method: "post",
    path: "/devices/people/:userId/lost-phone",
    summary: "Lost or stolen phone: sign out every device of the person and remove their pushers (audited)",
    access: ACTORS,
    params: personParamsSchema,
    body: deviceActionRequestSchema,
    response: signOutResultSchema,
  },
  getDevicePosture: {
    method: "get",
    path: "/devices/posture",
    summary: "Trust-wide posture: counts and shares rated red/amber/green, and each day's snapshot",
    access: READERS,
    response: postureSchema,
  },
  takeDevicePosture: {
    method: "post",
    path: "/devices/posture/snapshots",
    summary: "Take today's posture snapshot now (otherwise the daily job does)",
    access: ACTORS,
    response: postureSchema,
    status: 201,
  },
  listStaleSweeps: {
    method: "get",
    path: "/devices/stale-sweeps",
    summary: "Stale-session sweeps, newest first",
    access: READERS,
    response: staleSweepListSchema,
  },
  requestStaleSweep: {
    method: "post",
    path: "/devices/stale-sweeps",
    summary: "End stale sessions in bulk; held for approval above the configured number",
    access: ACTORS,
    body: staleSweepRequestSchema,
    response: staleSweepSchema,
    status: 201,
  },
  approveStaleSweep: {
    method: "post",
    path: "/devices/stale-sweeps/:sweepId/approve",
    summary: "Approve a held sweep: ends exactly the sessions it listed",
    access: ACTORS,
    params: staleSweepParamsSchema,
    body: deviceActionRequestSchema,
    response: staleSweepSchema,
  },
  rejectStaleSweep: {
    method: "post",
    path: "/devices/stale-sweeps/:sweepId/reject",
    summary: "Reject a held sweep",
    access: ACTORS,
    params: staleSweepParamsSchema,
    body: deviceActionRequestSchema,
    response: staleSweepSchema,
  },
} as const satisfies Record<string, RouteContract>;
