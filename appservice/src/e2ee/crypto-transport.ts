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

  async call(method: string, path: string, body: unknown, deviceId: string | null): Promise<string> {
    const url = new URL(`${this.homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3${path}`);
    url.searchParams.set("user_id", this.userId);
    if (deviceId) url.searchParams.set("device_id", deviceId);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.asToken}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `homeserver unreachable (${method} ${path}): ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `homeserver refused ${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    return text;
  }

  /**
   * `POST /_matrix/client/v1/appservice/{id}/ping`: Synapse calls Handover back and, on success,
   * ends its recovery backoff at once. While Synapse holds the appservice "down" it DROPS
   * to-device messages (room keys) that come without room events, so the sooner the better.
   */
  async ping(appserviceId: string): Promise<void> {
    const url = `${this.homeserverUrl.replace(/\/$/, "")}/_matrix/client/v1/appservice/${encodeURIComponent(appserviceId)}/ping`;
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.asToken}`, "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `appservice ping refused: ${response.status} ${(await response.text()).slice(0, 200)}`);
  }

  /**
   * Handover's device-inbox module (deploy/synapse/modules/handover_device_inbox.py): the
   * to-device messages Synapse kept for the bot's device after `since` (acknowledging those up
   * to it). Null when the homeserver does not have the module.
   */
  async deviceInbox(deviceId: string, since: number, limit: number): Promise<DeviceInboxPage | null> {
    const url = `${this.homeserverUrl.replace(/\/$/, "")}/_synapse/client/handover/v1/device_inbox`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${this.asToken}`, "content-type": "application/json" },
        body: JSON.stringify({ device_id: deviceId, since, limit }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new HandoverError("HOMESERVER_UNAVAILABLE", `homeserver unreachable (device inbox): ${(error as Error).message}`);
    }
    if (response.status === 404) return null;
    const text = await response.text();
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `device inbox refused: ${response.status} ${text.slice(0, 200)}`);
    const page = JSON.parse(text) as { events?: unknown; next?: unknown };
    if (!Array.isArray(page.events) || typeof page.next !== "number")
      throw new HandoverError("HOMESERVER_REFUSED", "device inbox answered without events/next");
    return { events: page.events as Record<string, unknown>[], next: page.next };
  }

  /** The room's `m.room.encryption` content, or null when the room is not encrypted. */
  async roomEncryption(roomId: string): Promise<Record<string, unknown> | null> {
    try {
      return JSON.parse(await this.call("GET", `/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`, undefined, null)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof HandoverError && /: 404 /.test(error.message)) return null;
      throw error;
    }
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
