import { clientName } from "./client-name.js";
import type { CrossSigningState, DeviceRecord, DirectoryStanding, LocalAccount, PusherRecord } from "./model.js";
import type { PersonDevices } from "./person-devices.js";

export interface PostureSettings {
  /** A session unused for longer than this is stale. */
  staleAfterMs: number;
  /**
   * The homeserver's `push.include_content` (Synapse's default is true). When false, Synapse
   * leaves content out of every push whatever the pusher asks for.
   */
  homeserverIncludesContent: boolean;
}

export interface PersonFacts {
  account: LocalAccount;
  devices: readonly DeviceRecord[];
  pushers: readonly PusherRecord[];
  crossSigning: CrossSigningState | undefined;
  standing: DirectoryStanding;
  /** When Handover first saw each device (device ID to time); absent when not needed (posture counts). */
  firstSeen?: ReadonlyMap<string, Date> | undefined;
  /** When Handover started watching devices at all: a device first seen then was already there. */
  watchingSince?: Date | null;
}

/** A pusher carries message content unless it asked for event IDs only or the homeserver strips content for all. */
export function carriesContent(pusher: PusherRecord, settings: PostureSettings): boolean {
  return settings.homeserverIncludesContent && pusher.format !== "event_id_only";
}

/** A session is stale when it was last used before the cut-off; one never seen counts as stale too. */
export function isStale(device: DeviceRecord, now: Date, settings: PostureSettings): boolean {
  return device.lastSeenAt === null || now.getTime() - device.lastSeenAt.getTime() > settings.staleAfterMs;
}

/** One person's server-visible posture. Pure: the facts come from the adapters. */
export function personPosture(facts: PersonFacts, now: Date, settings: PostureSettings): PersonDevices {
  const signed = facts.crossSigning?.signedDevices ?? new Set<string>();
  const devices = [...facts.devices]
    .sort((a, b) => (b.lastSeenAt?.getTime() ?? 0) - (a.lastSeenAt?.getTime() ?? 0))
    .map((device) => ({
      deviceId: device.deviceId,
      displayName: device.displayName,
      client: clientName(device.userAgent),
      userAgent: device.userAgent,
      lastSeenAt: device.lastSeenAt?.toISOString() ?? null,
      lastAddress: device.lastAddress,
      firstSeenAt: facts.firstSeen?.get(device.deviceId)?.toISOString() ?? null,
      crossSigned: signed.has(device.deviceId),
      stale: isStale(device, now, settings),
    }));
  const pushers = facts.pushers.map((pusher) => ({
    kind: pusher.kind,
    appId: pusher.appId,
    appDisplayName: pusher.appDisplayName,
    deviceDisplayName: pusher.deviceDisplayName,
    format: pusher.format,
    carriesContent: carriesContent(pusher, settings),
  }));
  return {
    userId: facts.account.userId,
    displayName: facts.account.displayName,
    directory: facts.standing,
    hasCrossSigningIdentity: facts.crossSigning?.hasIdentity ?? false,
    watchingSince: facts.watchingSince?.toISOString() ?? null,
    devices,
    pushers,
    staleSessions: devices.filter((device) => device.stale).length,
    devicesNotCrossSigned: devices.filter((device) => !device.crossSigned).length,
    pushersCarryingContent: pushers.filter((pusher) => pusher.carriesContent).length,
  };
}
