import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { HomeserverPushContent } from "../domain/devices/posture-metrics.js";
import type { BotClient } from "../matrix/bot-client.js";
import type { SynapseAdminClient } from "../synapse/admin-client.js";

const NOTIFY_PATH = "/_matrix/push/v1/notify";

export interface PushProbeDeps {
  homeserverUrl: string;
  serverName: string;
  admin: Pick<SynapseAdminClient, "upsertUserWithPassword" | "userAccount">;
  bot: Pick<BotClient, "createRoom" | "postClearMessage" | "leave">;
  /** How long to wait for the homeserver's push. */
  timeoutMs: number;
}

export const PUSH_PROBE_LOCALPART = "handover-push-probe";
/** The probe account's display name: also how Handover knows an existing account of that name is its own. */
export const PUSH_PROBE_DISPLAY_NAME = "Handover push probe";

/**
 * Finds out whether the homeserver puts message content into pushes (Synapse's
 * `push.include_content`) by watching it do so. A probe account Handover controls (outside the
 * appservice's namespace: Synapse never pushes to an appservice's own users) registers an HTTP
 * pusher whose gateway is a listener of Handover's own on loopback, the bot sends it a message in
 * a direct room, and the push that arrives either carries `content` or not. The pusher asks for
 * no `event_id_only`, so what is seen is the homeserver's own choice.
 */
export class HomeserverPushProbe {
  constructor(private readonly deps: PushProbeDeps) {}

  get probeUserId(): string {
    return `@${PUSH_PROBE_LOCALPART}:${this.deps.serverName}`;
  }

  /** Whether the account of the probe's name exists and is Handover's (its display name), not someone's real account. */
  async accountIsHandovers(): Promise<boolean> {
    return (await this.deps.admin.userAccount(this.probeUserId))?.displayname === PUSH_PROBE_DISPLAY_NAME;
  }

  async run(checkedAt: () => Date): Promise<HomeserverPushContent> {
    // Resetting the password of someone's real account would lock them out: an account of that
    // name that Handover did not make is left alone, and the probe does not run.
    const existing = await this.deps.admin.userAccount(this.probeUserId);
    if (existing && existing.displayname !== PUSH_PROBE_DISPLAY_NAME) {
      throw new Error(`${this.probeUserId} exists and is not Handover's probe account (display name "${existing.displayname ?? ""}"); it is left alone`);
    }
    const pushkey = randomBytes(16).toString("hex");
    const gateway = await PushGateway.listen(pushkey);
    const password = randomBytes(24).toString("base64url");
    let accessToken: string | null = null;
    let roomId: string | null = null;
    try {
      // A fresh password each time also ends any session the previous probe left behind.
      await this.deps.admin.upsertUserWithPassword(this.probeUserId, password, PUSH_PROBE_DISPLAY_NAME);
      accessToken = await this.logIn(password);
      roomId = await this.deps.bot.createRoom({ preset: "private_chat", is_direct: true, invite: [this.probeUserId], name: "Handover push probe" });
      await this.client(accessToken, "POST", `/rooms/${encodeURIComponent(roomId)}/join`, {});
      await this.client(accessToken, "POST", "/pushers/set", {
        kind: "http",
        app_id: "org.handover.push-probe",
        app_display_name: "Handover push probe",
        device_display_name: "Handover",
        pushkey,
        lang: "en",
        data: { url: `http://127.0.0.1:${gateway.port}${NOTIFY_PATH}` },
      });
      // m.text, not m.notice: notices do not notify under the default push rules.
      await this.deps.bot.postClearMessage(
        roomId,
        { msgtype: "m.text", body: "Handover checks what this homeserver puts into push notifications." },
        `push-probe:${pushkey}`,
      );
      const notification = await gateway.next(this.deps.timeoutMs);
      return { includesContent: notification.content !== undefined, source: "probe", checkedAt: checkedAt().toISOString(), note: null };
    } finally {
      gateway.close();
      if (accessToken && roomId) await this.client(accessToken, "POST", `/rooms/${encodeURIComponent(roomId)}/leave`, {}).catch(() => undefined);
      if (accessToken) await this.client(accessToken, "POST", "/logout", {}).catch(() => undefined);
      if (roomId) await this.deps.bot.leave(roomId, "push probe done").catch(() => undefined);
    }
  }

  private async logIn(password: string): Promise<string> {
    const login = await this.client<{ access_token: string }>(null, "POST", "/login", {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: this.probeUserId },
      password,
      initial_device_display_name: "Handover push probe",
    });
    return login.access_token;
  }

  private async client<T = unknown>(accessToken: string | null, method: string, endpoint: string, body: unknown): Promise<T> {
    const response = await fetch(`${this.deps.homeserverUrl.replace(/\/$/, "")}/_matrix/client/v3${endpoint}`, {
      method,
      headers: { "content-type": "application/json", ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.deps.timeoutMs),
    });
    if (!response.ok) throw new Error(`${method} ${endpoint} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    return (await response.json()) as T;
  }
}

interface Notification {
  content?: unknown;
  devices?: { pushkey?: string }[];
}

/** A push gateway on loopback that waits for one notification for one pushkey. */
class PushGateway {
  private waiter: ((notification: Notification) => void) | null = null;
  private received: Notification | null = null;

  private constructor(
    private readonly server: Server,
    private readonly pushkey: string,
  ) {}

  static async listen(pushkey: string): Promise<PushGateway & { port: number }> {
    let gateway: PushGateway | null = null;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 256 * 1024) chunks.push(chunk);
      });
      request.on("end", () => {
        if (request.method === "POST" && request.url === NOTIFY_PATH) gateway?.accept(Buffer.concat(chunks).toString("utf8"));
        response.writeHead(request.url === NOTIFY_PATH ? 200 : 404, { "content-type": "application/json" });
        response.end(JSON.stringify({ rejected: [] }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    gateway = new PushGateway(server, pushkey);
    return Object.assign(gateway, { port: (server.address() as AddressInfo).port });
  }

  private accept(body: string): void {
    try {
      const notification = (JSON.parse(body) as { notification?: Notification }).notification;
      // Only the probe's own pushkey counts; a badge-only update carries no event and is ignored.
      if (!notification?.devices?.some((device) => device.pushkey === this.pushkey) || !("event_id" in notification)) return;
      this.received ??= notification;
      this.waiter?.(notification);
    } catch {
      // Not JSON: not a push from the homeserver.
    }
  }

  next(timeoutMs: number): Promise<Notification> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no push from the homeserver within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = (notification) => {
        clearTimeout(timer);
        resolve(notification);
      };
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
