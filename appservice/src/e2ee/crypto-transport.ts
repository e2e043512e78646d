import { HandoverError } from "../domain/errors.js";

export interface DeviceInboxPage {
  events: Record<string, unknown>[];
  /** The stream position to ask from next (acknowledges everything up to it). */
  next: number;
}

/**
 * Client-server calls for the bot's crypto device, made with the appservice token as the bot
 * (`user_id`) and, once it exists, as its device (`device_id`, MSC3202 device masquerading,
 * which Synapse accepts from appservices). Devices are created and deleted as the appservice
 * (MSC4190: no user-interactive auth, registration `io.element.msc4190: true`).
 */
export class CryptoTransport {
  constructor(
    private readonly homeserverUrl: string,
    private readonly asToken: string,
    private readonly userId: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** One request with the appservice token; a network failure is HOMESERVER_UNAVAILABLE. */
  private async request(method: string, url: URL, body: unknown, what: string): Promise<{ status: number; text: string }> {
    try {
      const response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.asToken}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `homeserver unreachable (${what}): ${(error as Error).message}`);
    }
  }

  private url(path: string): URL {
    return new URL(`${this.homeserverUrl.replace(/\/$/, "")}${path}`);
  }

  private static refused(what: string, { status, text }: { status: number; text: string }): HandoverError {
    return new HandoverError("HOMESERVER_REFUSED", `homeserver refused ${what}: ${status} ${text.slice(0, 300)}`);
  }

  /** A client-server API call as the bot (and its device, once it exists); answers 404 as null. */
  private async clientApi(method: string, path: string, body: unknown, deviceId: string | null): Promise<string | null> {
    const url = this.url(`/_matrix/client/v3${path}`);
    url.searchParams.set("user_id", this.userId);
    if (deviceId) url.searchParams.set("device_id", deviceId);
    const answer = await this.request(method, url, body, `${method} ${path}`);
    if (answer.status === 404) return null;
    if (answer.status >= 300) throw CryptoTransport.refused(`${method} ${path}`, answer);
    return answer.text;
  }

  async call(method: string, path: string, body: unknown, deviceId: string | null): Promise<string> {
    const text = await this.clientApi(method, path, body, deviceId);
    if (text === null) throw CryptoTransport.refused(`${method} ${path}`, { status: 404, text: "" });
    return text;
  }

  /**
   * `POST /_matrix/client/v1/appservice/{id}/ping`: Synapse calls Handover back and, on success,
   * ends its recovery backoff at once. While Synapse holds the appservice "down" it DROPS
   * to-device messages (room keys) that come without room events, so the sooner the better.
   */
  async ping(appserviceId: string): Promise<void> {
    const answer = await this.request("POST", this.url(`/_matrix/client/v1/appservice/${encodeURIComponent(appserviceId)}/ping`), {}, "appservice ping");
    if (answer.status >= 300) throw CryptoTransport.refused("the appservice ping", answer);
  }

  /**
   * Handover's device-inbox module (deploy/synapse/modules/handover_device_inbox.py): the
   * to-device messages Synapse kept for the bot's device after `since` (acknowledging those up
   * to it). Null when the homeserver does not have the module.
   */
  async deviceInbox(deviceId: string, since: number, limit: number): Promise<DeviceInboxPage | null> {
    const answer = await this.request("POST", this.url("/_synapse/client/handover/v1/device_inbox"), { device_id: deviceId, since, limit }, "device inbox");
    if (answer.status === 404) return null;
    if (answer.status >= 300) throw CryptoTransport.refused("the device inbox", answer);
    const page = JSON.parse(answer.text) as { events?: unknown; next?: unknown };
    if (!Array.isArray(page.events) || typeof page.next !== "number")
      throw new HandoverError("HOMESERVER_REFUSED", "device inbox answered without events/next");
    return { events: page.events as Record<string, unknown>[], next: page.next };
  }

  /** The room's `m.room.encryption` content, or null when the room is not encrypted. */
  async roomEncryption(roomId: string): Promise<Record<string, unknown> | null> {
    const text = await this.clientApi("GET", `/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`, undefined, null);
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  }

  /** Who a message in the room must be encrypted for: its joined and invited members. */
  async roomRecipients(roomId: string): Promise<string[]> {
    const { chunk } = JSON.parse(await this.call("GET", `/rooms/${encodeURIComponent(roomId)}/members?not_membership=leave`, undefined, null)) as {
      chunk?: { state_key: string; content: { membership?: string } }[];
    };
    return (chunk ?? []).filter((m) => m.content.membership === "join" || m.content.membership === "invite").map((m) => m.state_key);
  }

  /** MSC4190: creates (or keeps) the device. */
  async createDevice(deviceId: string, displayName: string): Promise<void> {
    await this.call("PUT", `/devices/${encodeURIComponent(deviceId)}`, { display_name: displayName }, null);
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.call("DELETE", `/devices/${encodeURIComponent(deviceId)}`, {}, null);
  }

  async deviceIds(): Promise<string[]> {
    const { devices } = JSON.parse(await this.call("GET", "/devices", undefined, null)) as { devices: { device_id: string }[] };
    return devices.map((device) => device.device_id);
  }
}
