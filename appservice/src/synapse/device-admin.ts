import type { AccountDirectory, DeviceAdmin, DeviceRecord, LocalAccount, PusherRecord } from "../domain/devices/model.js";
import type { AccountPages, ListedAccount } from "../domain/devices/posture-pass.js";
import type { SynapseAdminClient } from "./admin-client.js";

const PAGE = 100;

/**
 * Synapse records a session's use ("last seen") at most once per two minutes per token and
 * address (LAST_SEEN_GRANULARITY in its client_ips store); half a minute more allows for the
 * homeserver's clock and Handover's differing. Posture passes use it to know when a read can be
 * trusted not to have missed an unrecorded change.
 */
export const SYNAPSE_LAST_SEEN_SETTLES_MS = 120_000 + 30_000;

/** Devices, pushers and accounts through Synapse's admin API, as domain records. */
export class SynapseDeviceAdmin implements DeviceAdmin, AccountDirectory, AccountPages {
  constructor(
    private readonly admin: SynapseAdminClient,
    private readonly serverName: string,
  ) {}

  async devices(userId: string): Promise<DeviceRecord[]> {
    return (await this.admin.userDevices(userId)).map((device) => ({
      deviceId: device.device_id,
      displayName: device.display_name ?? null,
      lastSeenAt: typeof device.last_seen_ts === "number" ? new Date(device.last_seen_ts) : null,
      lastAddress: device.last_seen_ip ?? null,
      userAgent: device.last_seen_user_agent ?? null,
    }));
  }

  async pushers(userId: string): Promise<PusherRecord[]> {
    return (await this.admin.userPushers(userId)).map((pusher) => ({
      kind: pusher.kind,
      appId: pusher.app_id,
      appDisplayName: pusher.app_display_name ?? null,
      deviceDisplayName: pusher.device_display_name ?? null,
      format: typeof pusher.data?.format === "string" ? pusher.data.format : null,
    }));
  }

  async signOut(userId: string, deviceIds: readonly string[]): Promise<void> {
    await this.admin.deleteDevices(userId, deviceIds);
  }

  async accounts(search: string | null, limit: number): Promise<LocalAccount[]> {
    const found: LocalAccount[] = [];
    let from: string | null = null;
    do {
      const page = await this.admin.listUsers({ name: search, from, limit: Math.min(PAGE, limit - found.length) });
      found.push(...page.users.map((user) => ({ userId: user.name, displayName: user.displayname ?? null })));
      from = page.next_token === undefined ? null : String(page.next_token);
    } while (from !== null && found.length < limit);
    return found;
  }

  async *pages(pageSize: number): AsyncIterable<ListedAccount[]> {
    let from: string | null = null;
    do {
      const page = await this.admin.listUsers({ name: null, from, limit: pageSize });
      // An older Synapse without `last_seen_ts` leaves it out: every pass then reads everyone.
      yield page.users.map((user) => ({
        userId: user.name,
        displayName: user.displayname ?? null,
        ...(user.last_seen_ts === undefined ? {} : { lastSeenTs: user.last_seen_ts }),
      }));
      from = page.next_token === undefined ? null : String(page.next_token);
    } while (from !== null);
  }

  async roomMembers(roomId: string): Promise<LocalAccount[]> {
    const local = (await this.admin.roomMemberIds(roomId)).filter((userId) => userId.endsWith(`:${this.serverName}`));
    const accounts = await Promise.all(local.map((userId) => this.account(userId)));
    return accounts.filter((account): account is LocalAccount => account !== null);
  }

  async account(userId: string): Promise<LocalAccount | null> {
    const account = await this.admin.userAccount(userId);
    return account && !account.deactivated ? { userId: account.name, displayName: account.displayname ?? null } : null;
  }
}
