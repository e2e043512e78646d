import { describe, expect, it } from "vitest";
import { desiredState, groupClosure } from "./desired.js";
import { IdentityTemplate } from "./identity.js";
import type { DirectoryPerson, DirectorySnapshot, SyncRule } from "./model.js";
import { type ActualRoom, type Membership, type PlanOptions, planMembership } from "./planner.js";

const SERVER = "trust.test";
const BOT = `@handover:${SERVER}`;
const identity = new IdentityTemplate("{username}", SERVER);
const id = (name: string) => `@${name}:${SERVER}`;

function person(name: string, groupIds: string[], extra: Partial<DirectoryPerson> = {}): DirectoryPerson {
  return { id: `uid=${name}`, username: name, mail: `${name}@trust.test`, attributes: {}, disabled: false, groupIds, ...extra };
}

function rule(fields: Partial<SyncRule> & Pick<SyncRule, "id" | "rooms">): SyncRule {
  return { description: "", group: null, attribute: null, joinMode: "invite", power: [], enabled: true, ...fields };
}

function room(roomId: string, members: Record<string, Membership>, users: Record<string, number> = {}, botCanManage = true): ActualRoom {
  return { roomId, members: new Map(Object.entries({ [BOT]: "join", ...members })), users: { [BOT]: 100, ...users }, usersDefault: 0, botCanManage };
}

const options: PlanOptions = {
  serverName: SERVER,
  botUserId: BOT,
  exempt: new Set([id("breakglass")]),
  leaverPolicy: { action: "lock", graceMs: 86_400_000, endSessions: true },
  now: new Date("2026-11-22T10:00:00Z"),
};

const snapshot: DirectorySnapshot = {
  source: "ad",
  people: [
    person("amy", ["g-nursing"]),
    person("cat", ["g-doctors"], { attributes: { title: "Consultant" } }),
    person("dan", ["g-ward9"]),
    person("eve", ["g-nursing"], { disabled: true }),
    person("Bad Name", ["g-nursing"]),
  ],
  groups: [
    { id: "g-nursing", name: "Ward7-Nursing", subgroupIds: [] },
    { id: "g-doctors", name: "Ward7-Doctors", subgroupIds: [] },
    { id: "g-clinical", name: "Ward7-Clinical", subgroupIds: ["g-nursing", "g-doctors"] },
    { id: "g-ward9", name: "Ward9", subgroupIds: [] },
  ],
};
const rules = [
  rule({ id: "ward7", group: "ward7-clinical", rooms: ["!w7:t", "!rota:t"], power: [{ attribute: "title", equals: "consultant", level: 50 }] }),
  rule({ id: "ward9", group: "Ward9", rooms: ["!w9:t"], joinMode: "force-join" }),
];

describe("desired state", () => {
  it("resolves nested groups, cutting cycles", () => {
    const closure = groupClosure([
      { id: "a", name: "A", subgroupIds: ["b"] },
      { id: "b", name: "B", subgroupIds: ["a"] },
    ]);
    expect([...(closure.get("b") ?? [])].sort()).toEqual(["a", "b"]);
  });

  it("maps people through nested groups with power from attributes; disabled and unmappable people are out", () => {
    const desired = desiredState([snapshot], rules, identity);
    expect([...(desired.rooms.get("!w7:t")?.keys() ?? [])].sort()).toEqual([id("amy"), id("cat")]);
    expect(desired.rooms.get("!w7:t")?.get(id("cat"))?.level).toBe(50);
    expect(desired.rooms.get("!w9:t")?.get(id("dan"))).toMatchObject({ joinMode: "force-join", reasons: [{ rule: "ward9", source: "ad" }] });
    expect(desired.disabled).toEqual(new Set([id("eve")]));
    expect(desired.unmapped).toBe(1);
  });
});

describe("membership plan", () => {
  const desired = desiredState([snapshot], rules, identity);

  it("plans one write per needed change and nothing for exempt, remote or banned users", () => {
    const actual = new Map([
      ["!w7:t", room("!w7:t", { [id("amy")]: "join", [id("old")]: "join", [id("breakglass")]: "join", "@x:other.test": "join" })],
      ["!rota:t", room("!rota:t", { [id("amy")]: "invite" }, {}, false)],
      ["!w9:t", room("!w9:t", {})],
    ]);
    const plan = planMembership(desired, actual, [], options);
    expect(plan.actions).toEqual([
      { kind: "kick", roomId: "!w7:t", userId: id("old"), why: "not-in-directory" },
      { kind: "invite", roomId: "!w7:t", userId: id("cat"), reasons: [{ rule: "ward7", source: "ad" }] },
      { kind: "set-power", roomId: "!w7:t", changes: [{ userId: id("cat"), from: 0, to: 50, reasons: [{ rule: "ward7", source: "ad" }] }] },
      { kind: "take-room", roomId: "!rota:t" },
      { kind: "invite", roomId: "!rota:t", userId: id("cat"), reasons: [{ rule: "ward7", source: "ad" }] },
      { kind: "set-power", roomId: "!rota:t", changes: [{ userId: id("cat"), from: 0, to: 50, reasons: [{ rule: "ward7", source: "ad" }] }] },
      { kind: "force-join", roomId: "!w9:t", userId: id("dan"), reasons: [{ rule: "ward9", source: "ad" }] },
    ]);
    expect(plan).toMatchObject({ removals: 1, managedMemberships: 3 });
  });

  it("leaves a ban alone", () => {
    const actual = new Map([["!w9:t", room("!w9:t", { [id("dan")]: "ban" })]]);
    expect(planMembership(desired, actual, [], options).actions).toEqual([]);
  });

  it("is empty once applied (idempotent)", () => {
    const actual = new Map([
      ["!w7:t", room("!w7:t", { [id("amy")]: "join", [id("cat")]: "invite" }, { [id("cat")]: 50 })],
      ["!rota:t", room("!rota:t", { [id("amy")]: "join", [id("cat")]: "join" }, { [id("cat")]: 50 })],
      ["!w9:t", room("!w9:t", { [id("dan")]: "join" })],
    ]);
    expect(planMembership(desired, actual, [], options).actions).toEqual([]);
  });

  it("marks leavers' removals, ends their sessions at once and locks them after the grace period", () => {
    const actual = new Map([["!w7:t", room("!w7:t", { [id("eve")]: "join", [id("amy")]: "join", [id("cat")]: "join" }, { [id("cat")]: 50 })]]);
    const leftYesterday = new Date(options.now.getTime() - 2 * 86_400_000);
    const plan = planMembership(
      desired,
      actual,
      [
        { userId: id("eve"), leftAt: options.now, sessionsEnded: false, accountClosed: false },
        { userId: id("zed"), leftAt: leftYesterday, sessionsEnded: true, accountClosed: false },
      ],
      options,
    );
    expect(plan.actions).toEqual([
      { kind: "kick", roomId: "!w7:t", userId: id("eve"), why: "leaver" },
      { kind: "end-sessions", userId: id("eve"), why: "leaver" },
      { kind: "lock", userId: id("zed"), why: "leaver" },
    ]);
  });

  it("reports rooms it cannot read instead of guessing", () => {
    expect(planMembership(desired, new Map(), [], options).unreadableRooms).toEqual(["!w7:t", "!rota:t", "!w9:t"]);
  });
});

describe("attribute look-ups by names from rules and templates (issue 12.2)", () => {
  it("find a person's own attributes only: constructor, __proto__ or toString name nothing", () => {
    const people: DirectorySnapshot = {
      source: "ad",
      people: [person("amy", ["g"], { attributes: { title: "Nurse" } })],
      groups: [{ id: "g", name: "G", subgroupIds: [] }],
    };
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const byAttribute = rule({ id: "a", attribute: { name, equals: "x" }, rooms: ["!a:t"] });
      const byPower = rule({ id: "b", group: "G", rooms: ["!b:t"], power: [{ attribute: name, equals: "x", level: 50 }] });
      const desired = desiredState([people], [byAttribute, byPower], identity);
      expect(desired.rooms.get("!a:t")?.size).toBe(0);
      expect(desired.rooms.get("!b:t")?.get(id("amy"))?.level).toBe(0);
      expect(new IdentityTemplate(`{attr.${name}}`, SERVER).userId(people.people[0] as DirectoryPerson)).toBeNull();
    }
  });
});

describe("identity template", () => {
  it("maps by username, mail local part or attribute, lower-cased; invalid results map to nobody", () => {
    const amy = person("Amy.Jones@trust.nhs.uk", [], { mail: "a.jones@nhs.net", attributes: { employeeid: "E123" } });
    expect(new IdentityTemplate("{username}", SERVER).userId(amy)).toBe("@amy.jones:trust.test");
    expect(new IdentityTemplate("{mail.localpart}", SERVER).userId(amy)).toBe("@a.jones:trust.test");
    expect(new IdentityTemplate("staff-{attr.employeeID}", SERVER).userId(amy)).toBe("@staff-e123:trust.test");
    expect(new IdentityTemplate("{attr.missing}", SERVER).userId(amy)).toBeNull();
    expect(() => new IdentityTemplate("{nope}", SERVER)).toThrow(/unknown placeholder/);
  });
});
