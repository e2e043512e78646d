import { describe, expect, it } from "vitest";
import { EncryptionDevice } from "./setup.js";

const event = { event_id: "$1", room_id: "!r:t", sender: "@a:t", type: "m.room.encrypted", origin_server_ts: 0, content: {} };

describe("EncryptionDevice (the lazily loaded bot device)", () => {
  it("before start: refuses to read or to send into encrypted rooms, and says why", async () => {
    const device = new EncryptionDevice(() => Promise.reject(new Error("unused")));
    expect(device.problem()).toMatch(/has not started/);
    expect(device.status()).toMatchObject({ working: false, deviceId: null });
    await expect(device.decrypt(event)).rejects.toThrow(/has not started/);
    await expect(device.encryptFor("!r:t", "m.room.message", { body: "x" })).rejects.toThrow(/Cannot send into an encrypted room yet/);
    expect(await device.readable(event)).toBe(event);
    await device.receiveTransaction({});
    await device.stop();
  });

  it("before start, plain rooms still get their notices in the clear; encrypted ones are refused", async () => {
    const encrypted = new Set(["!secret:t"]);
    const device = new EncryptionDevice(
      () => Promise.reject(new Error("unused")),
      async (roomId) => (encrypted.has(roomId) ? { algorithm: "m.megolm.v1.aes-sha2" } : null),
    );
    expect(await device.encryptFor("!plain:t", "m.room.message", { body: "x" })).toBeNull();
    await expect(device.encryptFor("!secret:t", "m.room.message", { body: "x" })).rejects.toThrow(/Cannot send into an encrypted room yet/);
  });

  it("a library that cannot load is reported, not thrown at start", async () => {
    const device = new EncryptionDevice(() => Promise.reject(new Error("wasm missing")));
    await device.start();
    expect(device.problem()).toMatch(/could not be loaded: wasm missing/);
    expect(device.status()).toMatchObject({ working: false, problem: expect.stringMatching(/wasm missing/) });
  });
});
