import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import { describe, expect, it } from "vitest";
import { OlmPair } from "../testing/olm-pair.js";

const ROOM = "!ward7:trust-a.test";

describe("an OlmMachine fed to-device events by hand (what BotDevice does with transactions)", () => {
  it("receives a room key, decrypts, and decrypts again after export/import into a fresh device", async () => {
    const pair = await OlmPair.create();
    await pair.shareRoomKey(ROOM);
    await pair.deliverToReceiver();
    const event = await pair.encrypt(ROOM, "$1", { msgtype: "m.text", body: "Obs stable" });
    const settings = new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);
    const clear = JSON.parse((await pair.receiver.decryptRoomEvent(JSON.stringify(event), new wasm.RoomId(ROOM), settings)).event);
    expect(clear.content.body).toBe("Obs stable");

    const exported = await pair.receiver.exportRoomKeys(() => true);
    const fresh = await wasm.OlmMachine.initialize(new wasm.UserId("@handover:trust-a.test"), new wasm.DeviceId("BOTDEV2"));
    await fresh.importExportedRoomKeys(exported, () => undefined);
    const again = JSON.parse((await fresh.decryptRoomEvent(JSON.stringify(event), new wasm.RoomId(ROOM), settings)).event);
    expect(again.content.body).toBe("Obs stable");
  });
});
