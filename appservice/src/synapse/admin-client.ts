import { HandoverError } from "../domain/errors.js";
import type { MatrixEvent } from "../domain/matrix-event.js";

/**
 * A small typed client for the parts of Synapse's admin API Handover uses. It needs a server
 * admin's access token. Failures become HandoverErrors naming the call.
 */
export class SynapseAdminClient {
  private userId: string | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly accessToken: string,
    private readonly timeoutMs = 15_000,
  ) {}

  private async call<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.accessToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `Synapse admin API ${method} ${path} unreachable: ${(error as Error).message}`);
    }
    const text = await response.text();
    const json = text ? (JSON.parse(text) as unknown) : {};
    if (!response.ok) {
      const { errcode, error } = json as { errcode?: string; error?: string };
      throw new HandoverError("HOMESERVER_REFUSED", `Synapse admin API ${method} ${path} answered ${response.status} ${errcode ?? ""} ${error ?? ""}`.trim());
    }
    return json as T;
  }

  async serverVersion(): Promise<string> {
    const answer = await this.call<{ server_version: string }>("GET", "/_synapse/admin/v1/server_version");
    return answer.server_version;
  }

  /** Gives a local user the highest power level in a room, through a local room admin in it. */
  async makeRoomAdmin(roomId: string, userId: string): Promise<void> {
    await this.call("POST", `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/make_room_admin`, { user_id: userId });
  }

  /** Every current state event of a room (members of any membership, power levels), whoever is in it. */
  async roomState(roomId: string): Promise<{ type: string; state_key: string; content: Record<string, unknown> }[]> {
    const answer = await this.call<{ state: { type: string; state_key: string; content: Record<string, unknown> }[] }>(
      "GET",
      `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/state`,
    );
    return answer.state;
  }

  /** Joins a local user to a room without an invite (local users only). */
  async forceJoin(roomId: string, userId: string): Promise<void> {
    await this.call("POST", `/_synapse/admin/v1/join/${encodeURIComponent(roomId)}`, { user_id: userId });
  }

  /** The admin account's own user ID (the join API acts through it). */
  async whoami(): Promise<string> {
    return (await this.call<{ user_id: string }>("GET", "/_matrix/client/v3/account/whoami")).user_id;
  }

  /**
   * A small write through the homeserver, the way a clinician's message goes (the main process,
   * then a database transaction): the admin account's own account data, overwritten each time.
   * Retention times it to pace its deletions.
   */
  async touchAccountData(type: string): Promise<void> {
    this.userId ??= await this.whoami();
    await this.call("PUT", `/_matrix/client/v3/user/${encodeURIComponent(this.userId)}/account_data/${encodeURIComponent(type)}`, { at: Date.now() });
  }

  /** The admin account joins a room it was invited to (client-server API, its own token). */
  async joinAsAdmin(roomId: string): Promise<void> {
    await this.call("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
  }

  async listDevices(userId: string): Promise<string[]> {
    const answer = await this.call<{ devices: { device_id: string }[] }>("GET", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}/devices`);
    return answer.devices.map((device) => device.device_id);
  }

  /** Logs the given devices out (their access tokens stop working). */
  async deleteDevices(userId: string, deviceIds: readonly string[]): Promise<void> {
    await this.call("POST", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}/delete_devices`, { devices: deviceIds });
  }

  async lockUser(userId: string): Promise<void> {
    await this.call("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, { locked: true });
  }

  async deactivateUser(userId: string): Promise<void> {
    await this.call("POST", `/_synapse/admin/v1/deactivate/${encodeURIComponent(userId)}`, { erase: false });
  }

  // Devices and sessions (issue 14): people, their devices and pushers.

  /** One page of local accounts (not guests, not deactivated), optionally matching `name` in the ID or display name. */
  async listUsers(options: { name: string | null; from: string | null; limit: number }): Promise<{
    /** `last_seen_ts`: the latest use of any of the person's devices (Synapse 1.68+). */
    users: { name: string; displayname: string | null; last_seen_ts?: number | null }[];
    next_token?: string | number;
  }> {
    const query = new URLSearchParams({ limit: String(options.limit), guests: "false", deactivated: "false" });
    if (options.name) query.set("name", options.name);
    if (options.from) query.set("from", options.from);
    return this.call("GET", `/_synapse/admin/v2/users?${query}`);
  }

  /** Every member of a room (joined, whoever asks); the admin API works without being in the room. */
  async roomMemberIds(roomId: string): Promise<string[]> {
    return (await this.call<{ members: string[] }>("GET", `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/members`)).members;
  }

  /** null when the homeserver has no such account. */
  /** Creates the account or resets its password (its other sessions end), as the admin API's PUT does. */
  async upsertUserWithPassword(userId: string, password: string, displayName: string): Promise<void> {
    await this.call("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, { password, displayname: displayName, logout_devices: true });
  }

  async userAccount(userId: string): Promise<{ name: string; displayname: string | null; deactivated: boolean } | null> {
    try {
      return await this.call("GET", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`);
    } catch (error) {
      if (error instanceof HandoverError && /answered 404\b/.test(error.message)) return null;
      throw error;
    }
  }

  async userDevices(
    userId: string,
  ): Promise<
    { device_id: string; display_name?: string | null; last_seen_ts?: number | null; last_seen_ip?: string | null; last_seen_user_agent?: string | null }[]
  > {
    return (await this.call<{ devices: [] }>("GET", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}/devices`)).devices;
  }

  async userPushers(
    userId: string,
  ): Promise<{ kind: string; app_id: string; app_display_name?: string | null; device_display_name?: string | null; data?: { format?: string } }[]> {
    return (await this.call<{ pushers: [] }>("GET", `/_synapse/admin/v1/users/${encodeURIComponent(userId)}/pushers`)).pushers;
  }

  // Retention (issue 3): history purge, its status, a room's history and media deletion.

  /** Starts purging the room's history before `keepFromEventId` (kept), local users' events included. */
  async purgeHistory(roomId: string, keepFromEventId: string): Promise<string> {
    const answer = await this.call<{ purge_id: string }>("POST", `/_synapse/admin/v1/purge_history/${encodeURIComponent(roomId)}`, {
      delete_local_events: true,
      purge_up_to_event_id: keepFromEventId,
    });
    return answer.purge_id;
  }

  /** "unknown" when Synapse no longer knows the purge (e.g. after a restart). */
  async purgeHistoryStatus(purgeId: string): Promise<"active" | "complete" | "failed" | "unknown"> {
    try {
      const answer = await this.call<{ status: string }>("GET", `/_synapse/admin/v1/purge_history_status/${encodeURIComponent(purgeId)}`);
      return answer.status === "complete" || answer.status === "failed" ? answer.status : "active";
    } catch (error) {
      if (error instanceof HandoverError && /answered 404\b/.test(error.message)) return "unknown";
      throw error;
    }
  }

  /** One page of a room's events as a server admin sees them (every event, whoever can see it). */
  async roomMessages(roomId: string, options: { dir: "b" | "f"; from?: string | undefined; limit: number }): Promise<{ chunk: MatrixEvent[]; end?: string }> {
    const query = new URLSearchParams({ dir: options.dir, limit: String(options.limit), ...(options.from ? { from: options.from } : {}) });
    return this.call("GET", `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}/messages?${query}`);
  }

  /** Deletes one local media item; false when Synapse has no such media. */
  async deleteMedia(serverName: string, mediaId: string): Promise<boolean> {
    try {
      await this.call("DELETE", `/_synapse/admin/v1/media/${encodeURIComponent(serverName)}/${encodeURIComponent(mediaId)}`);
      return true;
    } catch (error) {
      if (error instanceof HandoverError && /answered 404\b/.test(error.message)) return false;
      throw error;
    }
  }
}
