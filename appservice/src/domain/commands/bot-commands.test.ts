import { describe, expect, it } from "vitest";
import { HandoverError } from "../errors.js";
import type { Room } from "../rooms/room.js";
import type { RoomKind } from "../rooms/room-kind.js";
import { BotCommands, isCommand } from "./bot-commands.js";

function setup(level = 50, classifyError?: Error) {
  const notices: { roomId: string; text: string; key: string }[] = [];
  const classified: { roomId: string; kind: RoomKind; actor: string }[] = [];
  const room: Room = { roomId: "!r:t", name: "Ward 7", kind: null, encrypted: false, botMembership: "join", classifiedBy: null, classifiedAt: null };
  const commands = new BotCommands({
    notifier: { notice: async (roomId, text, key) => void notices.push({ roomId, text, key }) },
    powerLevels: { userLevel: async () => level },
    classify: async (roomId, kind, actor) => {
      if (classifyError) throw classifyError;
      classified.push({ roomId, kind, actor });
      return { ...room, kind };
    },
    room: async () => room,
    version: "0.1.0",
  });
  const run = (body: string) => commands.handle({ roomId: "!r:t", sender: "@doc:t", eventId: "$e1", body });
  return { notices, classified, run };
}

describe("bot commands", () => {
  it("recognises only its own prefix", () => {
    expect(isCommand("!handover")).toBe(true);
    expect(isCommand("!handover help")).toBe(true);
    expect(isCommand("!handoverx")).toBe(false);
    expect(isCommand("please !handover")).toBe(false);
    expect(isCommand(42)).toBe(false);
  });

  it("answers help, keyed to the command event so a retry is not posted twice", async () => {
    const { notices, run } = setup();
    await run("!handover help");
    expect(notices).toHaveLength(1);
    expect(notices[0]?.text).toContain("!handover classify clinical|operational");
    expect(notices[0]?.key).toBe("reply:$e1");
  });

  it("reports status", async () => {
    const { notices, run } = setup();
    await run("!handover status");
    expect(notices[0]?.text).toContain("Room kind: not classified yet");
  });

  it("lets a moderator classify", async () => {
    const { notices, classified, run } = setup(50);
    await run("!handover classify Clinical");
    expect(classified).toEqual([{ roomId: "!r:t", kind: "clinical", actor: "@doc:t" }]);
    expect(notices[0]?.text).toBe("This room is now classified as clinical.");
  });

  it("refuses someone below moderator level and changes nothing", async () => {
    const { notices, classified, run } = setup(0);
    await run("!handover classify operational");
    expect(classified).toEqual([]);
    expect(notices[0]?.text).toMatch(/Only room moderators/);
  });

  it("explains bad usage and unknown commands", async () => {
    const { notices, classified, run } = setup();
    await run("!handover classify secret");
    await run("!handover frobnicate");
    expect(classified).toEqual([]);
    expect(notices[0]?.text).toBe("Usage: !handover classify clinical|operational");
    expect(notices[1]?.text).toMatch(/^Unknown command "frobnicate"/);
  });

  it("tells the room when classification failed", async () => {
    const { notices, run } = setup(100, new HandoverError("HOMESERVER_REFUSED", "no power"));
    await run("!handover classify clinical");
    expect(notices[0]?.text).toBe("Could not classify this room: no power");
  });
});
