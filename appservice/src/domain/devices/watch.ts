import type { CrossSigningState, DeviceRecord, PusherRecord } from "./model.js";

/**
 * What Handover keeps between posture passes (issue 14): each person's last-read devices,
 * pushers and cross-signing, so that an incremental pass re-reads only the people whose state
 * can have changed, and the first time Handover saw each device.
 */

/** One person's facts as the last pass read them. */
export interface PersonFactsRecord {
  devices: DeviceRecord[];
  pushers: PusherRecord[];
  crossSigning: CrossSigningState | undefined;
}

export interface WatchedPerson {
  /** The homeserver's "last seen" for the person (Synapse's users list) when their facts were read. */
  lastSeenTs: number | null;
  facts: PersonFactsRecord;
  /** When the read of those facts began: a read too soon after `lastSeenTs` may have missed a change "last seen" never recorded. */
  readAt: Date;
  /** Handover changed their sessions (a sign-out) after their facts were read: read them again. */
  touchedSinceRead: boolean;
}

export interface PostureWatch {
  /** Everyone whose facts were read by an earlier pass. */
  load(): Promise<Map<string, WatchedPerson>>;
  /** Keeps the facts read in this pass; `readStartedAt` is when the reads began (a sign-out after it marks the person again). */
  save(people: readonly { userId: string; lastSeenTs: number | null; facts: PersonFactsRecord }[], readStartedAt: Date): Promise<void>;
  /** Forgets people no longer listed (deactivated) so they are read afresh if they come back. */
  keepOnly(userIds: readonly string[]): Promise<void>;
  lastFullPassAt(): Promise<Date | null>;
  fullPassDone(at: Date): Promise<void>;
}

/** Handover ended some of these people's sessions: their next pass must read them again. */
export interface PostureChanges {
  /** `at` is after the sign-out finished: a read that started before it is out of date. */
  touched(userIds: readonly string[], at: Date): Promise<void>;
}

/** First sightings of devices, kept by user and device ID; the watch starts with the first sighting. */
export interface DeviceSightings {
  /** Records devices not seen before as first seen `at`. */
  sighted(devices: readonly { userId: string; deviceId: string }[], at: Date): Promise<void>;
  /** When Handover first saw each of these people's devices, and when it started watching at all (null: never yet). */
  firstSeen(userIds: readonly string[]): Promise<{ devices: Map<string, Map<string, Date>>; watchingSince: Date | null }>;
}

/** Facts to and from JSON: dates as ISO strings, the signed device set as a list. */
export function factsToJson(facts: PersonFactsRecord): unknown {
  return {
    devices: facts.devices.map((device) => ({ ...device, lastSeenAt: device.lastSeenAt?.toISOString() ?? null })),
    pushers: facts.pushers,
    crossSigning: facts.crossSigning ? { hasIdentity: facts.crossSigning.hasIdentity, signedDevices: [...facts.crossSigning.signedDevices] } : null,
  };
}

export function factsFromJson(json: unknown): PersonFactsRecord {
  const stored = json as {
    devices: (Omit<DeviceRecord, "lastSeenAt"> & { lastSeenAt: string | null })[];
    pushers: PusherRecord[];
    crossSigning: { hasIdentity: boolean; signedDevices: string[] } | null;
  };
  return {
    devices: stored.devices.map((device) => ({ ...device, lastSeenAt: device.lastSeenAt === null ? null : new Date(device.lastSeenAt) })),
    pushers: stored.pushers,
    crossSigning: stored.crossSigning ? { hasIdentity: stored.crossSigning.hasIdentity, signedDevices: new Set(stored.crossSigning.signedDevices) } : undefined,
  };
}
