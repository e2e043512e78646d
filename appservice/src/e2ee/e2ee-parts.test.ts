import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { DecryptOutcome, RoomEventDecryptor } from "../domain/e2ee/crypto-state.js";
import type { ConversationReader, RoomTimeline } from "../domain/records/conversation.js";
import { assembleTranscript, MISSING_MESSAGE_TEXT } from "../domain/records/transcript.js";
import { messageEvent } from "../testing/fakes.js";
import { decryptAttachment } from "./attachment-crypto.js";
import { DecryptingConversationReader } from "./decrypting-conversation-reader.js";
import { StateCipher } from "./state-cipher.js";
import { transactionCrypto } from "./transaction-crypto.js";

const BOT = "@handover:trust-a.test";
const KEY = "a-state-key-of-at-least-thirty-two-characters";

describe("StateCipher", () => {
  it("round-trips, binds the row identity, and refuses another key", () => {
    const cipher = new StateCipher(KEY);
    const sealed = cipher.seal('{"session":"x"}', "!r|s|k");
    expect(sealed.toString("utf8")).not.toContain("session");
    expect(cipher.open(sealed, "!r|s|k")).toBe('{"session":"x"}');
    expect(() => cipher.open(sealed, "!other|s|k")).toThrow(/cannot be read/);
    const other = new StateCipher(`${KEY}-rotated`);
    expect(other.keyCheck).not.toBe(cipher.keyCheck);
    expect(() => other.open(sealed, "!r|s|k")).toThrow(/wrong e2ee.stateKey/);
    expect(() => new StateCipher("short")).toThrow(/32 characters/);
  });
});

describe("transactionCrypto", () => {
  it("takes Synapse 1.160's MSC4203/MSC3202 fields for the bot's device only", () => {
    const body = {
      events: [],
      "de.sorunome.msc2409.to_device": [
        { to_user_id: BOT, to_device_id: "DEV", sender: "@a:x", type: "m.room.encrypted", content: { n: 1 } },
        { to_user_id: BOT, to_device_id: "OLD", sender: "@a:x", type: "m.room.encrypted", content: { n: 2 } },
      ],
      "org.matrix.msc3202.device_lists": { changed: ["@a:x"], left: ["@b:x"] },
      "org.matrix.msc3202.device_one_time_keys_count": { [BOT]: { DEV: { signed_curve25519: 42 }, OLD: { signed_curve25519: 1 } } },
      "org.matrix.msc3202.device_unused_fallback_key_types": { [BOT]: { DEV: ["signed_curve25519"] } },
    };
    const extras = transactionCrypto(body, BOT, "DEV");
    expect(extras?.toDevice).toEqual([{ sender: "@a:x", type: "m.room.encrypted", content: { n: 1 } }]);
    expect(extras?.changed).toEqual(["@a:x"]);
    expect(extras?.left).toEqual(["@b:x"]);
    expect([...(extras?.oneTimeKeyCounts ?? [])]).toEqual([["signed_curve25519", 42]]);
    expect([...(extras?.unusedFallbackKeys ?? [])]).toEqual(["signed_curve25519"]);
    expect(transactionCrypto({ events: [] }, BOT, "DEV")).toBeNull();
    expect(transactionCrypto("nonsense", BOT, "DEV")).toBeNull();
  });
});

describe("decryptAttachment", () => {
  it("decrypts AES-256-CTR after checking the SHA-256, and refuses altered bytes", () => {
    const key = randomBytes(32);
    const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
    const plain = Buffer.from("PNG bytes");
    const cipher = createCipheriv("aes-256-ctr", key, iv);
    const data = Buffer.concat([cipher.update(plain), cipher.final()]);
    const file = {
      url: "mxc://x/y",
      key: { k: key.toString("base64url") },
      iv: iv.toString("base64"),
      hashes: { sha256: createHash("sha256").update(data).digest("base64").replace(/=+$/, "") },
    };
    expect(Buffer.from(decryptAttachment(data, file)).toString()).toBe("PNG bytes");
    data[0] = (data[0] ?? 0) ^ 1;
    expect(() => decryptAttachment(data, file)).toThrow(/hash/);
  });
});

describe("reading an encrypted room", () => {
  const encrypted = (id: string, sender = "@alice:trust-a.test") => ({
    ...messageEvent({ event_id: id, sender }),
    type: "m.room.encrypted",
    content: { algorithm: "m.megolm.v1.aes-sha2", ciphertext: id },
  });
  const plain: ConversationReader = {
    read: async (): Promise<RoomTimeline> => ({
      encrypted: true,
      events: [encrypted("$old"), encrypted("$1"), encrypted("$2"), encrypted("$bot", BOT)],
      displayNames: { "@alice:trust-a.test": "Dr Alice" },
      roomName: "Ward 7",
    }),
    media: async () => ({ bytes: new Uint8Array(), contentType: "" }),
  };
  const decryptor = (problem: string | null): RoomEventDecryptor => ({
    problem: () => problem,
    decrypt: async (event): Promise<DecryptOutcome> =>
      event.event_id === "$old"
        ? { ok: false, reason: "missing-key", detail: "no session" }
        : { ok: true, type: "m.room.message", content: { msgtype: "m.text", body: `text of ${event.event_id}` } },
  });

  it("decrypts what it can and lists the rest as missing, in order", async () => {
    const timeline = await new DecryptingConversationReader(plain, decryptor(null)).read("!r:x", { afterEventId: null, upToEventId: null });
    const messages = assembleTranscript(timeline, { botUserId: BOT, threadRootId: null });
    expect(messages.map((message) => [message.eventId, message.kind, message.text])).toEqual([
      ["$old", "missing", MISSING_MESSAGE_TEXT],
      ["$1", "text", "text of $1"],
      ["$2", "text", "text of $2"],
    ]);
  });

  it("refuses the room, naming the problem, when the device cannot read", async () => {
    await expect(new DecryptingConversationReader(plain, decryptor("the key changed")).read("!r:x", { afterEventId: null, upToEventId: null })).rejects.toThrow(
      /the key changed/,
    );
  });
});
