/**
 * Devices and sessions as people read them (issue 14): each person's devices, pushers and
 * cross-signing, and the sweeps that end stale sessions. Imports nothing: the admin API's
 * contract builds its schemas from these, and the portal bundles it. Times are ISO 8601.
 */
export const DIRECTORY_STANDINGS = ["in-directory", "left", "not-managed"] as const;
export type DirectoryStanding = (typeof DIRECTORY_STANDINGS)[number];

export const STALE_SWEEP_STATUSES = ["held", "applied", "rejected"] as const;
export type StaleSweepStatus = (typeof STALE_SWEEP_STATUSES)[number];

export interface DeviceView {
  deviceId: string;
  displayName: string | null;
  /** Readable app and system from the user agent ("Element on Android"). */
  client: string;
  userAgent: string | null;
  lastSeenAt: string | null;
  lastAddress: string | null;
  /**
   * When Handover first saw the device (a posture pass), not when it was created: Synapse does
   * not say. Equal to the person's `watchingSince` when the device was already there; null when
   * no pass has seen it yet.
   */
  firstSeenAt: string | null;
  /** Signed by the person's own self-signing key (they verified this device). */
  crossSigned: boolean;
  /** Not used for longer than `devices.staleAfter`. */
  stale: boolean;
}

export interface PusherView {
  kind: string;
  appId: string;
  appDisplayName: string | null;
  deviceDisplayName: string | null;
  format: string | null;
  /** Push notifications carry message content (through Apple's or Google's servers onto a lock screen). */
  carriesContent: boolean;
}

export interface PersonDevices {
  userId: string;
  displayName: string | null;
  directory: DirectoryStanding;
  hasCrossSigningIdentity: boolean;
  /** When Handover started watching devices (its first posture pass); null before the first. */
  watchingSince: string | null;
  devices: DeviceView[];
  pushers: PusherView[];
  staleSessions: number;
  devicesNotCrossSigned: number;
  pushersCarryingContent: number;
}

export interface SignOutResult {
  userId: string;
  signedOut: string[];
  /** Pushers still registered after the sign-out (Synapse removes a device's pushers with it). */
  pushersRemaining: number;
  pushersRemoved: number;
}

export interface StaleSweep {
  id: number;
  status: StaleSweepStatus;
  requestedBy: string;
  requestedAt: string;
  reason: string;
  sessions: { userId: string; deviceId: string; lastSeenAt: string | null }[];
  /** Sweeps ending more sessions than this wait for an admin's approval (`devices.staleSweep.approvalAbove`). */
  approvalAbove: number;
  decidedBy: string | null;
  decidedAt: string | null;
}
