import { HandoverError } from "../domain/errors.js";

/**
 * A small typed client for the parts of Synapse's admin API Handover uses. It needs a server
 * admin's access token. Failures become HandoverErrors naming the call.
 */
export class SynapseAdminClient {
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
}
