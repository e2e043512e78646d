import type { MatrixEvent } from "../../appservice/src/domain/matrix-event.js";
import type { MatrixUser } from "../harness/client.js";
import { matrixRequest, registerUser } from "../harness/client.js";
import type { TrustInfo } from "../harness/stack.js";

/** A person using the client-server API the way any Matrix client does. */
export class TestUser {
  constructor(
    readonly trust: TrustInfo,
    readonly user: MatrixUser,
  ) {}

  static async register(trust: TrustInfo, localpart: string, password = "correct horse battery staple"): Promise<TestUser> {
    return new TestUser(trust, await registerUser(trust, localpart, password));
  }

  get userId(): string {
    return this.user.userId;
  }

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return matrixRequest<T>(`${this.trust.clientUrl}/_matrix/client/v3${path}`, {
      method,
      accessToken: this.user.accessToken,
      ...(body === undefined ? {} : { body }),
    });
  }

  async createRoom(name: string, options: Record<string, unknown> = {}): Promise<string> {
    const { room_id } = await this.request<{ room_id: string }>("POST", "/createRoom", { name, preset: "private_chat", ...options });
    return room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.request("POST", `/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: userId });
  }

  async send(roomId: string, body: string): Promise<string> {
    const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
    const { event_id } = await this.request<{ event_id: string }>("PUT", `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
      msgtype: "m.text",
      body,
    });
    return event_id;
  }

  async state<T>(roomId: string, type: string, stateKey = ""): Promise<T> {
    return this.request<T>("GET", `/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`);
  }

  async members(roomId: string): Promise<Record<string, string>> {
    const { chunk } = await this.request<{ chunk: { state_key: string; content: { membership: string } }[] }>(
      "GET",
      `/rooms/${encodeURIComponent(roomId)}/members`,
    );
    return Object.fromEntries(chunk.map((event) => [event.state_key, event.content.membership]));
  }

  /** Message events of the room, oldest first. */
  /** The room's latest `m.room.message` events, oldest first. */
  async messages(roomId: string, limit = 100): Promise<MatrixEvent[]> {
    return (await this.timeline(roomId, limit)).filter((event) => event.type === "m.room.message");
  }

  /** The room's latest events of every type (encrypted ones as they are on the server), oldest first. */
  async timeline(roomId: string, limit = 100): Promise<MatrixEvent[]> {
    const { chunk } = await this.request<{ chunk: MatrixEvent[] }>("GET", `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`);
    return chunk.reverse();
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
