import { createHash } from "node:crypto";
import { createClient, type MatrixClient, MatrixError, Method } from "matrix-js-sdk";
import type { Logger } from "pino";
import type { PowerLevelReader, RoomNotifier } from "../domain/commands/bot-commands.js";
import { HandoverError } from "../domain/errors.js";
import { CLASSIFICATION_EVENT_TYPE } from "../domain/rooms/room.js";
import type { RoomStateWriter } from "../domain/rooms/room-classifier.js";
import type { RoomMembershipActions, RoomSnapshot } from "../domain/rooms/room-events.js";

export interface RoomAdminGranter {
  makeRoomAdmin(roomId: string, userId: string): Promise<void>;
}

interface StateEvent {
  type: string;
  state_key: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
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
export class BotClient implements RoomNotifier, PowerLevelReader, RoomStateWriter, RoomMembershipActions {
  private readonly client: MatrixClient;

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

  async notice(roomId: string, text: string, idempotencyKey: string): Promise<void> {
    // The homeserver deduplicates sends by transaction id, so a retried notice is not posted twice.
    const txnId = createHash("sha256").update(idempotencyKey).digest("base64url");
    await this.request(Method.Put, path("/rooms/$/send/m.room.message/$", roomId, txnId), { msgtype: "m.notice", body: text }, "post a notice");
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
    const state = await this.request<StateEvent[]>(Method.Get, path("/rooms/$/state", roomId), undefined, "read room state");
    const find = (type: string) => state.find((event) => event.type === type && event.state_key === "");
    const name = find("m.room.name")?.content.name;
    const classification = find(CLASSIFICATION_EVENT_TYPE);
    return {
      name: typeof name === "string" ? name : null,
      encrypted: find("m.room.encryption") !== undefined,
      classification: classification ? { content: classification.content, sender: classification.sender, ts: classification.origin_server_ts } : null,
    };
  }

  async whoami(): Promise<string> {
    const answer = await this.request<{ user_id: string }>(Method.Get, "/account/whoami", undefined, "check the appservice registration");
    return answer.user_id;
  }
}
