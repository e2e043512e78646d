import { describe, expect, it } from "vitest";
import type { DesiredState } from "../domain/directory/desired.js";
import { DirectoryGroupLookup } from "./group-memberships.js";

const BOB = "@bob:trust-a.test";

function state(groups: string[]): DesiredState {
  return {
    rooms: new Map(),
    people: new Map([[BOB, { userId: BOB, source: "entra", personId: "1", groups: new Set(groups), attributes: {} }]]),
    disabled: new Set(),
    unmapped: 0,
  };
}

describe("directory group lookup for portal roles", () => {
  it("reads the directory at most once per max age, and again at once after it changed", async () => {
    let now = 0;
    let groups = ["information governance"];
    let reads = 0;
    const lookup = new DirectoryGroupLookup(
      async () => {
        reads++;
        return state(groups);
      },
      () => now,
      30_000,
    );
    expect([...((await lookup.membershipsOf(BOB))?.groups ?? [])]).toEqual(["information governance"]);
    await lookup.membershipsOf(BOB);
    expect(reads).toBe(1);

    groups = [];
    lookup.invalidate();
    expect([...((await lookup.membershipsOf(BOB))?.groups ?? [])]).toEqual([]);
    expect(reads).toBe(2);

    now += 30_000;
    await lookup.membershipsOf(BOB);
    expect(reads).toBe(3);
    expect(await lookup.membershipsOf("@nobody:trust-a.test")).toBeNull();
  });

  it("does not keep an answer read before the directory changed", async () => {
    let release: (value: DesiredState) => void = () => undefined;
    let reads = 0;
    const lookup = new DirectoryGroupLookup(
      () => {
        reads++;
        return reads === 1 ? new Promise<DesiredState>((resolve) => (release = resolve)) : Promise.resolve(state([]));
      },
      () => 0,
      30_000,
    );
    const stale = lookup.membershipsOf(BOB);
    lookup.invalidate();
    release(state(["information governance"]));
    await stale;
    expect([...((await lookup.membershipsOf(BOB))?.groups ?? [])]).toEqual([]);
  });

  it("lists a group's members by the group's name in any case, for the devices list and spot checks", async () => {
    const lookup = new DirectoryGroupLookup(
      async () => state(["ward 7 nurses"]),
      () => 0,
      30_000,
    );
    expect([...(await lookup.membersOf("Ward 7 Nurses"))]).toEqual([BOB]);
    expect([...(await lookup.membersOf("pharmacists"))]).toEqual([]);
  });
});
