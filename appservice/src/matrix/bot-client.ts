import { createHash } from "node:crypto";
import { createClient, type MatrixClient, MatrixError, Method } from "matrix-js-sdk";
import type { Logger } from "pino";
import type { PowerLevelReader, RoomNotifier } from "../domain/commands/bot-commands.js";
import { HandoverError } from "../domain/errors.js";
import type { MatrixEvent, MatrixStateEvent } from "../domain/matrix-event.js";
import { CLASSIFICATION_EVENT_TYPE } from "../domain/rooms/room.js";
import type { RoomStateWriter } from "../domain/rooms/room-classifier.js";
import type { RoomMembershipActions, RoomSnapshot } from "../domain/rooms/room-events.js";

export interface RoomAdminGranter {
  makeRoomAdmin(roomId: string, userId: string): Promise<void>;
}

const path = (template: string, ...values: string[]) => values.reduce((out, value) => out.replace("$", encodeURIComponent(value)), template);

type SdkLogger = NonNullable<Parameters<typeof createClient>[0]["logger"]>;

/** matrix-js-sdk logs every request at debug level: route that into Handover's own logs. */
function sdkLogger(logger: Logger): SdkLogger {
  const child = logger.child({ component: "matrix-js-sdk" });
  const at =
    (level: "trace" | "debug" | "info" | "warn" | "error") =>
    (...msg: unknown[]) =>
      child[level](msg.map(String).join(" "));
  const sdk: SdkLogger = { trace: at("trace"), debug: at("trace"), info: at("debug"), warn: at("warn"), error: at("error"), getChild: () => sdk };
  return sdk;
}

/** Matrix errors become Handover errors here, once, so the domain never sees SDK exceptions. */
export function toHandoverError(error: unknown, doing: string): HandoverError {
  if (error instanceof MatrixError) {
    return new HandoverError("HOMESERVER_REFUSED", `The homeserver refused to ${doing}: ${error.errcode ?? error.httpStatus} ${error.data.error ?? ""}`.trim());
  }
  return new HandoverError("HOMESERVER_UNAVAILABLE", `Could not reach the homeserver to ${doing}: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * The bot's client-server calls, made with the appservice token through matrix-js-sdk's HTTP
 * layer (no sync loop: the homeserver pushes events to Handover).
 */
/** The parts of a /keys/query answer Handover reads (devices' keys and signatures, cross-signing keys). */
export interface KeysQueryAnswer {
  device_keys?: Record<
    string,
    Record<
      string,
      { user_id: string; device_id: string; keys: Record<string, string>; signatures?: Record<string, Record<string, string>> } & Record<string, unknown>
    >
  >;
  master_keys?: Record<string, { keys: Record<string, string> }>;
  self_signing_keys?: Record<string, { keys: Record<string, string>; signatures?: Record<string, Record<string, string>> } & Record<string, unknown>>;
}

/** Encrypts the bot's messages for encrypted rooms (the e2ee device); null for a room that is not encrypted. */
export interface MessageEncryptor {
  encryptFor(roomId: string, type: string, content: Record<string, unknown>): Promise<{ type: string; content: Record<string, unknown> } | null>;
}

export class BotClient implements RoomNotifier, PowerLevelReader, RoomStateWriter, RoomMembershipActions {
  private readonly client: MatrixClient;
  private encryptor: MessageEncryptor | null = null;

  constructor(
    baseUrl: string,
    asToken: string,
    readonly botUserId: string,
    private readonly admin: RoomAdminGranter,
    logger: Logger,
  ) {
    this.client = createClient({ baseUrl, accessToken: asToken, userId: botUserId, useAuthorizationHeader: true, logger: sdkLogger(logger) });
  }

  private async request<T>(method: Method, endpoint: string, body: Record<string, unknown> | undefined, doing: string): Promise<T> {
    try {
      return await this.client.http.authedRequest<T>(method, endpoint, undefined, body);
    } catch (error) {
      throw Object.assign(toHandoverError(error, doing), { cause: error });
    }
  }

  /** With the e2ee device set, notices in encrypted rooms are sent encrypted (never in the clear there). */
  setEncryptor(encryptor: MessageEncryptor): void {
    this.encryptor = encryptor;
  }

  async notice(roomId: string, text: string, idempotencyKey: string): Promise<void> {
    await this.postNotice(roomId, text, idempotencyKey);
  }

  /** Posts a notice, returning its event id (retention keeps the room's latest event with it). */
  async postNotice(roomId: string, text: string, idempotencyKey: string): Promise<string> {
    // The homeserver deduplicates sends by transaction id, so a retried notice is not posted twice.
    const txnId = createHash("sha256").update(idempotencyKey).digest("base64url");
    const clear = { msgtype: "m.notice", body: text };
    const sealed = this.encryptor ? await this.encryptor.encryptFor(roomId, "m.room.message", clear) : null;
    const { type, content } = sealed ?? { type: "m.room.message", content: clear };
    const answer = await this.request<{ event_id: string }>(Method.Put, path("/rooms/$/send/$/$", roomId, type, txnId), content, "post a notice");
    return answer.event_id;
  }

  /** Sends an m.room.message as it is, never encrypted (the audit room's anchors are read back without a device). */
  async postClearMessage(roomId: string, content: Record<string, unknown>, idempotencyKey: string): Promise<string> {
    const txnId = createHash("sha256").update(idempotencyKey).digest("base64url");
    const answer = await this.request<{ event_id: string }>(Method.Put, path("/rooms/$/send/$/$", roomId, "m.room.message", txnId), content, "post a message");
    return answer.event_id;
  }

  async userLevel(roomId: string, userId: string): Promise<number> {
    const levels = await this.request<{ users?: Record<string, number>; users_default?: number }>(
      Method.Get,
      path("/rooms/$/state/m.room.power_levels/", roomId),
      undefined,
      "read power levels",
    );
    return levels.users?.[userId] ?? levels.users_default ?? 0;
  }

  async setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    const endpoint = path("/rooms/$/state/$/$", roomId, type, stateKey);
    try {
      await this.request(Method.Put, endpoint, content, `set ${type}`);
    } catch (error) {
      const forbidden = (error as { cause?: unknown }).cause instanceof MatrixError && (error as { cause: MatrixError }).cause.errcode === "M_FORBIDDEN";
      if (!forbidden) throw error;
      // The bot lacks power in a room it was invited to: take it through the admin API, then retry.
      await this.admin.makeRoomAdmin(roomId, this.botUserId);
      await this.request(Method.Put, endpoint, content, `set ${type}`);
    }
  }

  async join(roomId: string): Promise<void> {
    await this.request(Method.Post, path("/rooms/$/join", roomId), {}, "join the room");
  }

  async leave(roomId: string, reason: string): Promise<void> {
    await this.request(Method.Post, path("/rooms/$/leave", roomId), { reason }, "leave the room");
  }

  async snapshot(roomId: string): Promise<RoomSnapshot> {
    const state = await this.request<MatrixStateEvent[]>(Method.Get, path("/rooms/$/state", roomId), undefined, "read room state");
    const find = (type: string) => state.find((event) => event.type === type && event.state_key === "");
    const name = find("m.room.name")?.content.name;
    const classification = find(CLASSIFICATION_EVENT_TYPE);
    return {
      name: typeof name === "string" ? name : null,
      encrypted: find("m.room.encryption") !== undefined,
      classification: classification ? { content: classification.content, sender: classification.sender, ts: classification.origin_server_ts } : null,
    };
  }

  async invite(roomId: string, userId: string, reason: string): Promise<void> {
    await this.request(Method.Post, path("/rooms/$/invite", roomId), { user_id: userId, reason }, "invite a user");
  }

  async kick(roomId: string, userId: string, reason: string): Promise<void> {
    await this.request(Method.Post, path("/rooms/$/kick", roomId), { user_id: userId, reason }, "remove a user");
  }

  /** The room's whole m.room.power_levels content. */
  async powerLevels(roomId: string): Promise<Record<string, unknown>> {
    return this.request<Record<string, unknown>>(Method.Get, path("/rooms/$/state/m.room.power_levels/", roomId), undefined, "read power levels");
  }

  async createRoom(options: Record<string, unknown>): Promise<string> {
    const answer = await this.request<{ room_id: string }>(Method.Post, "/createRoom", options, "create a room");
    return answer.room_id;
  }

  /** Content of one state event, or null when the room has none. */
  async stateContent(roomId: string, type: string, stateKey = ""): Promise<Record<string, unknown> | null> {
    try {
      return await this.client.http.authedRequest<Record<string, unknown>>(Method.Get, path("/rooms/$/state/$/$", roomId, type, stateKey));
    } catch (error) {
      if (error instanceof MatrixError && error.errcode === "M_NOT_FOUND") return null;
      throw Object.assign(toHandoverError(error, `read ${type}`), { cause: error });
    }
  }

  /** User IDs of joined and invited members. */
  async memberIds(roomId: string): Promise<string[]> {
    const answer = await this.request<{ chunk: MatrixStateEvent[] }>(Method.Get, path("/rooms/$/members", roomId), undefined, "list room members");
    return answer.chunk.filter((event) => event.content.membership === "join" || event.content.membership === "invite").map((event) => event.state_key);
  }

  /** Kicks a member (or withdraws an invite); takes power through the admin API if it lacks it. */
  async removeMember(roomId: string, userId: string, reason: string): Promise<void> {
    const endpoint = path("/rooms/$/kick", roomId);
    try {
      await this.request(Method.Post, endpoint, { user_id: userId, reason }, "remove a member");
    } catch (error) {
      const forbidden = (error as { cause?: unknown }).cause instanceof MatrixError && (error as { cause: MatrixError }).cause.errcode === "M_FORBIDDEN";
      if (!forbidden) throw error;
      await this.admin.makeRoomAdmin(roomId, this.botUserId);
      await this.request(Method.Post, endpoint, { user_id: userId, reason }, "remove a member");
    }
  }

  /** Room IDs a space lists as children (m.space.child with a `via`). */
  async spaceChildren(spaceId: string): Promise<string[]> {
    const state = await this.request<MatrixStateEvent[]>(Method.Get, path("/rooms/$/state", spaceId), undefined, "read the space");
    return state
      .filter((event) => event.type === "m.space.child" && Array.isArray(event.content.via) && event.content.via.length > 0)
      .map((event) => event.state_key);
  }

  /** One page of the room's timeline, newest first, as the bot sees it (GET /rooms/{roomId}/messages, dir=b). */
  async roomMessages(roomId: string, from: string | null, limit: number): Promise<{ chunk: MatrixEvent[]; end?: string }> {
    const query: Record<string, string> = { dir: "b", limit: String(limit), ...(from ? { from } : {}) };
    try {
      return await this.client.http.authedRequest<{ chunk: MatrixEvent[]; end?: string }>(Method.Get, path("/rooms/$/messages", roomId), query);
    } catch (error) {
      throw Object.assign(toHandoverError(error, "read the room's messages"), { cause: error });
    }
  }

  /** Display names of everyone who has been a member, by user ID. */
  async memberDisplayNames(roomId: string): Promise<Record<string, string>> {
    const answer = await this.request<{ chunk: MatrixStateEvent[] }>(Method.Get, path("/rooms/$/members", roomId), undefined, "list room members");
    return Object.fromEntries(
      answer.chunk.filter((event) => typeof event.content.displayname === "string").map((event) => [event.state_key, event.content.displayname as string]),
    );
  }

  /** Downloads media through the authenticated media API (GET /_matrix/client/v1/media/download) as the bot. */
  async downloadMedia(mxcUrl: string, maxBytes: number): Promise<{ bytes: Uint8Array; contentType: string }> {
    const match = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(mxcUrl);
    if (!match) throw new HandoverError("VALIDATION_FAILED", `Not an mxc:// URL: ${mxcUrl}`);
    const url = `${this.client.baseUrl}/_matrix/client/v1/media/download/${encodeURIComponent(match[1] as string)}/${encodeURIComponent(match[2] as string)}`;
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization: `Bearer ${this.client.getAccessToken()}` }, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw toHandoverError(error, "download media");
    }
    if (!response.ok) throw new HandoverError("HOMESERVER_REFUSED", `The homeserver refused to download media: HTTP ${response.status}`);
    const length = Number(response.headers.get("content-length") ?? "0");
    if (length > maxBytes) throw new HandoverError("VALIDATION_FAILED", `Media larger than ${maxBytes} bytes`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw new HandoverError("VALIDATION_FAILED", `Media larger than ${maxBytes} bytes`);
    return { bytes, contentType: response.headers.get("content-type")?.split(";")[0] ?? "application/octet-stream" };
  }

  /** Device and cross-signing keys of the given users (client-server /keys/query, as the bot). */
  async queryKeys(userIds: readonly string[]): Promise<KeysQueryAnswer> {
    return this.request<KeysQueryAnswer>(Method.Post, "/keys/query", { device_keys: Object.fromEntries(userIds.map((userId) => [userId, []])) }, "query keys");
  }

  /**
   * `POST /_matrix/client/v1/appservice/{id}/ping`: Synapse calls Handover back and, on success,
   * ends any backoff it keeps for the appservice. A standby that has just taken over pings so
   * Synapse sends the transactions the dead process left at once, not after its backoff.
   */
  async ping(appserviceId: string): Promise<void> {
    try {
      await this.client.http.authedRequest(
        Method.Post,
        path("/appservice/$/ping", appserviceId),
        undefined,
        {},
        { prefix: "/_matrix/client/v1", priority: "auto" },
      );
    } catch (error) {
      throw Object.assign(toHandoverError(error, "ping the homeserver as the appservice"), { cause: error });
    }
  }

  async whoami(): Promise<string> {
    const answer = await this.request<{ user_id: string }>(Method.Get, "/account/whoami", undefined, "check the appservice registration");
    return answer.user_id;
  }
}
