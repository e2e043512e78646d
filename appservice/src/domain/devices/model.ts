/**
 * Devices and sessions (issue 14): what the homeserver can see of each person's phones and
 * computers. The domain reads it through the narrow ports below; adapters speak to Synapse's
 * admin API and to the client-server API as the bot.
 */

/** One device (session) as Synapse's admin API reports it. */
export interface DeviceRecord {
  deviceId: string;
  displayName: string | null;
  lastSeenAt: Date | null;
  lastAddress: string | null;
  userAgent: string | null;
}

/** One pusher as Synapse's admin API reports it. */
export interface PusherRecord {
  kind: string;
  appId: string;
  appDisplayName: string | null;
  deviceDisplayName: string | null;
  /** `data.format`; "event_id_only" means the push carries no message content. */
  format: string | null;
}

export interface LocalAccount {
  userId: string;
  displayName: string | null;
}

/** Synapse's admin API for one person's devices and pushers. */
export interface DeviceAdmin {
  devices(userId: string): Promise<DeviceRecord[]>;
  pushers(userId: string): Promise<PusherRecord[]>;
  /** Logs the devices out: their tokens stop working and their pushers go. */
  signOut(userId: string, deviceIds: readonly string[]): Promise<void>;
}

/** Local, active, non-guest accounts, optionally those whose ID or display name contains `search`. */
export interface AccountDirectory {
  accounts(search: string | null, limit: number): Promise<LocalAccount[]>;
  account(userId: string): Promise<LocalAccount | null>;
  /** This homeserver's active accounts among the room's members. */
  roomMembers(roomId: string): Promise<LocalAccount[]>;
}

/** Which devices each person's own self-signing key has signed (from /keys/query as the bot). */
export interface CrossSigningReader {
  crossSigned(userIds: readonly string[]): Promise<Map<string, CrossSigningState>>;
}

export interface CrossSigningState {
  /** The person has published a master and a self-signing key. */
  hasIdentity: boolean;
  /** Device IDs whose keys carry a valid signature by the person's self-signing key. */
  signedDevices: ReadonlySet<string>;
}

/** Whether a person is still in the trust's staff directory (directory sync's identities). */
export type DirectoryStanding = "in-directory" | "left" | "not-managed";

export interface DirectoryStandingReader {
  standing(userIds: readonly string[]): Promise<Map<string, DirectoryStanding>>;
}

/** Who directory sync's sources put in a directory group now (nested membership resolved). */
export interface DirectoryGroupMembers {
  /** Matrix user IDs of the group's active people; the group's name in any case. Throws when no directory knows groups. */
  membersOf(group: string): Promise<ReadonlySet<string>>;
}
