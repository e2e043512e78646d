import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import type { MatrixEvent } from "../domain/matrix-event.js";
import { registerE2eeMetrics } from "./metrics.js";

/** What the room is told when the bot joins it encrypted, or when a room it is in turns encryption on. */
export function presenceNotice(deviceName: string): string {
  return (
    `Handover is in this encrypted room as its own device ("${deviceName}"), so it receives the room's keys like any member. ` +
    "It reads messages only to file the conversation into the patient record when a member asks (!handover file) and to answer !handover commands. " +
    "Messages sent before it joined cannot be read by it and are listed as missing in anything it files."
  );
}

/**
 * Encrypted rooms (issue 7): tells each encrypted room the bot is in what its device is for
 * (only when `e2ee` is configured; without it, filing an encrypted room is refused as before).
 * The device itself is built by the composition root (it must see every transaction) and
 * reaches EHR filing as `platform.decryptor`.
 */
export const e2eeCapability: CapabilityFactory = (platform: Platform): Capability => {
  const deviceName = platform.config.e2ee?.deviceDisplayName ?? "Handover";
  const undecryptable = platform.decryptor ? registerE2eeMetrics(platform.metrics.registry) : null;
  const announce = async (roomId: string, key: string) => {
    await platform.bot.notice(roomId, presenceNotice(deviceName), key);
    await platform.audit.record({ actor: platform.botUserId, action: "e2ee.presence_announced", target: roomId, details: {} });
  };
  return {
    name: "e2ee",
    async onEvent(event: MatrixEvent) {
      if (!platform.decryptor) return;
      // Handlers see the decrypted event when the device had its key: one still encrypted had none.
      if (event.type === "m.room.encrypted") undecryptable?.inc();
      if (event.type === "m.room.member" && event.state_key === platform.botUserId && event.content.membership === "join") {
        if ((await platform.bot.snapshot(event.room_id)).encrypted) await announce(event.room_id, `e2ee-presence-${event.event_id}`);
      } else if (event.type === "m.room.encryption" && event.state_key === "" && event.sender !== platform.botUserId) {
        await announce(event.room_id, `e2ee-presence-${event.event_id}`);
      }
    },
  };
};
