import { describe, expect, it } from "vitest";
import type { MembershipAction } from "./planner.js";
import { AdaptiveWriteLimit, type IndexedAction, runLanes, writeLanes } from "./write-lanes.js";

const kick = (roomId: string, userId: string): MembershipAction => ({ kind: "kick", roomId, userId, why: "leaver" });

describe("write lanes", () => {
  it("keeps each room's actions in order, one lane per room and per person, people first", () => {
    const actions: MembershipAction[] = [
      { kind: "take-room", roomId: "!a" },
      kick("!a", "@ben:t"),
      kick("!b", "@ben:t"),
      kick("!a", "@cat:t"),
      { kind: "end-sessions", userId: "@ben:t", why: "leaver" },
      { kind: "lock", userId: "@ben:t", why: "leaver" },
    ];
    const lanes = writeLanes(actions).map((lane) => lane.map((item) => item.index));
    expect(lanes).toEqual([[4, 5], [0, 1, 3], [2]]);
  });

  it("never has more lanes in flight than the limit says, and runs every lane", async () => {
    const lanes: IndexedAction[][] = Array.from({ length: 20 }, (_, index) => [{ index, action: kick(`!${index}`, "@ben:t") }]);
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await runLanes(lanes, { current: 3 }, async (lane) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      done.push((lane[0] as IndexedAction).index);
      inFlight--;
    });
    expect(most).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual(lanes.map((_, index) => index));
  });

  it("starts at the most allowed, halves on a slow answer or a refusal, and adds one write in flight per prompt answer back up", () => {
    const limit = new AdaptiveWriteLimit(8, 2_000);
    expect(limit.current).toBe(8);
    limit.answered(2_500);
    expect(limit.current).toBe(4);
    for (let answer = 0; answer < 10; answer++) limit.answered(50);
    expect(limit.current).toBe(8);
    limit.answered(2_500);
    expect(limit.current).toBe(4);
    limit.backOff();
    limit.backOff();
    limit.backOff();
    expect(limit.current).toBe(1);
  });
});
