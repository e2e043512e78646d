import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { ClientEvent, createClient, type MatrixClient, SyncState } from "matrix-js-sdk";
import type { TrustInfo } from "../harness/stack.js";
import type { TestUser } from "./matrix-user.js";

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild: () => quiet };

/**
 * A clinician's real encrypting Matrix client: matrix-js-sdk with its Rust crypto (in memory in
 * Node), logged in as a new device of the user, syncing.
 */
export class EncryptingClient {
  private constructor(readonly client: MatrixClient) {}

  static async start(trust: TrustInfo, user: TestUser): Promise<EncryptingClient> {
    const response = await fetch(`${trust.clientUrl}/_matrix/client/v3/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.user.password }),
    });
    if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
    const login = (await response.json()) as { access_token: string; device_id: string };
    const client = createClient({
      baseUrl: trust.clientUrl,
      accessToken: login.access_token,
      userId: user.userId,
      deviceId: login.device_id,
      logger: quiet as unknown as NonNullable<Parameters<typeof createClient>[0]["logger"]>,
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const prepared = new Promise<void>((resolve) => {
      client.on(ClientEvent.Sync, (state: SyncState) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) resolve();
      });
    });
    await client.startClient({ initialSyncLimit: 5 });
    await prepared;
    return new EncryptingClient(client);
  }

  async createEncryptedRoom(name: string): Promise<string> {
    const { room_id } = await this.client.createRoom({
      name,
      preset: "private_chat" as never,
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await this.waitForRoom(room_id);
    return room_id;
  }

  async waitForRoom(roomId: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const room = this.client.getRoom(roomId);
      if (room && this.client.getCrypto() && (await this.client.getCrypto()?.isEncryptionEnabledInRoom(roomId))) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`room ${roomId} never synced as encrypted`);
  }

  /** Sends an encrypted message (the client shares its room key with the members' devices first). */
  async send(roomId: string, content: Record<string, unknown>): Promise<string> {
    const { event_id } = await this.client.sendMessage(roomId, content as never);
    return event_id;
  }

  async sendText(roomId: string, body: string): Promise<string> {
    return this.send(roomId, { msgtype: "m.text", body });
  }

  /** Encrypts the bytes as the spec's encrypted attachments (AES-256-CTR), uploads them and sends an m.image. */
  async sendEncryptedImage(roomId: string, bytes: Uint8Array, name: string, mimetype: string): Promise<{ eventId: string; contentUri: string }> {
    const key = randomBytes(32);
    const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
    const cipher = createCipheriv("aes-256-ctr", key, iv);
    const data = Buffer.concat([cipher.update(bytes), cipher.final()]);
    const upload = await this.client.uploadContent(data, { type: "application/octet-stream", name: "" });
    const file = {
      v: "v2",
      url: upload.content_uri,
      key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: key.toString("base64url"), ext: true },
      iv: iv.toString("base64").replace(/=+$/, ""),
      hashes: { sha256: createHash("sha256").update(data).digest("base64").replace(/=+$/, "") },
    };
    const eventId = await this.send(roomId, { msgtype: "m.image", body: name, file, info: { mimetype, size: bytes.length } });
    return { eventId, contentUri: upload.content_uri };
  }

  stop(): void {
    this.client.stopClient();
  }
}
