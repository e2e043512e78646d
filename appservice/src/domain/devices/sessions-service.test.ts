import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { DeviceRecord, PusherRecord } from "./model.js";
import type { StaleSweep } from "./person-devices.js";
import type { SessionEndNotice } from "./session-notice.js";
import { sessionEndNoticeText } from "./session-notice.js";
import { type NewStaleSweep, SessionsService, type StaleSweepStore } from "./sessions-service.js";

const DAY = 86_400_000;

class FakeHomeserver {
  readonly devices = new Map<string, DeviceRecord[]>();
  readonly pusherList = new Map<string, PusherRecord[]>();
  readonly signOuts: [string, string[]][] = [];
  async accounts(search: string | null) {
    return [...this.devices.keys()].filter((userId) => !search || userId.includes(search)).map((userId) => ({ userId, displayName: null }));
  }
  readonly rooms = new Map<string, string[]>();
  /** Directory groups (lower case) -> user IDs, some of whom may have no account here. */
  readonly groups = new Map<string, string[]>();
  async roomMembers(roomId: string) {
    return (this.rooms.get(roomId) ?? []).map((userId) => ({ userId, displayName: userId === "@amy:t" ? "Amy Pond" : null }));
  }
  lookups = 0;
  async account(userId: string) {
    this.lookups++;
    return this.devices.has(userId) ? { userId, displayName: null } : null;
  }
  async pushers(userId: string) {
    return this.pusherList.get(userId) ?? [];
  }
  async signOut(userId: string, deviceIds: readonly string[]) {
    this.signOuts.push([userId, [...deviceIds]]);
    this.devices.set(
      userId,
      (this.devices.get(userId) ?? []).filter((device) => !deviceIds.includes(device.deviceId)),
    );
    this.pusherList.delete(userId);
  }
  async devicesOf(userId: string) {
    return this.devices.get(userId) ?? [];
  }
}

class MemorySweeps implements StaleSweepStore {
  readonly sweeps: StaleSweep[] = [];
  async create(sweep: NewStaleSweep) {
    const stored: StaleSweep = {
      id: this.sweeps.length + 1,
      status: sweep.status,
      requestedBy: sweep.requestedBy,
      requestedAt: sweep.requestedAt.toISOString(),
      reason: sweep.reason,
      sessions: sweep.sessions.map((s) => ({ userId: s.userId, deviceId: s.deviceId, lastSeenAt: s.lastSeenAt?.toISOString() ?? null })),
      approvalAbove: sweep.approvalAbove,
      decidedBy: null,
      decidedAt: null,
    };
    this.sweeps.push(stored);
    return stored;
  }
  async get(id: number) {
    return this.sweeps.find((sweep) => sweep.id === id) ?? null;
  }
  async list() {
    return [...this.sweeps].reverse();
  }
  async decide(id: number, status: "applied" | "rejected", decidedBy: string, at: Date) {
    const sweep = this.sweeps.find((s) => s.id === id && s.status === "held");
    if (!sweep) return false;
    Object.assign(sweep, { status, decidedBy, decidedAt: at.toISOString() });
    return true;
  }
}

function setUp(approvalAbove: number) {
  const clock = new FakeClock();
  const homeserver = new FakeHomeserver();
  const audit = new RecordingAudit();
  const old = new Date(clock.now().getTime() - 100 * DAY);
  homeserver.devices.set("@amy:t", [
    { deviceId: "OLD1", displayName: null, lastSeenAt: old, lastAddress: null, userAgent: null },
    { deviceId: "NOW1", displayName: null, lastSeenAt: clock.now(), lastAddress: null, userAgent: null },
  ]);
  homeserver.devices.set("@bob:t", [{ deviceId: "OLD2", displayName: null, lastSeenAt: old, lastAddress: null, userAgent: null }]);
  homeserver.devices.set("@admin:t", [{ deviceId: "ADMINTOKEN", displayName: null, lastSeenAt: old, lastAddress: null, userAgent: null }]);
  homeserver.pusherList.set("@amy:t", [{ kind: "http", appId: "a", appDisplayName: null, deviceDisplayName: null, format: null }]);
  const sweeps = new MemorySweeps();
  const touched: string[] = [];
  const notices: SessionEndNotice[] = [];
  const firstSeenAt = new Date(clock.now().getTime() - DAY);
  const service = new SessionsService({
    admin: { devices: (u) => homeserver.devicesOf(u), pushers: (u) => homeserver.pushers(u), signOut: (u, d) => homeserver.signOut(u, d) },
    accounts: homeserver,
    crossSigning: { crossSigned: async () => new Map() },
    directory: { standing: async () => new Map() },
    groups: {
      membersOf: async (group) => {
        const members = homeserver.groups.get(group.toLowerCase());
        if (!members) return new Set<string>();
        return new Set(members);
      },
    },
    sweeps,
    watch: {
      touched: async (userIds) => void touched.push(...userIds),
      firstSeen: async () => ({ devices: new Map([["@amy:t", new Map([["NOW1", firstSeenAt]])]]), watchingSince: firstSeenAt }),
    },
    notices: {
      notify: async (notice) => {
        notices.push(notice);
        return "sent";
      },
    },
    audit,
    clock,
    settings: {
      staleAfterMs: 90 * DAY,
      homeserverIncludesContent: true,
      approvalAbove,
      concurrency: 2,
      protectedAccounts: async () => new Set(["@admin:t"]),
    },
  });
  return { service, homeserver, audit, sweeps, touched, firstSeenAt, notices };
}

describe("reading a person", () => {
  it("shows when Handover first saw each device and since when it has watched, not a creation time Synapse does not give", async () => {
    const { service, firstSeenAt } = setUp(10);
    const amy = await service.person("@amy:t");
    expect(amy.watchingSince).toBe(firstSeenAt.toISOString());
    expect(Object.fromEntries(amy.devices.map((device) => [device.deviceId, device.firstSeenAt]))).toEqual({
      NOW1: firstSeenAt.toISOString(),
      OLD1: null,
    });
  });
});

describe("the notice to the person", () => {
  const endedAt = new Date("2026-12-05T23:40:00Z");
  const lost = {
    userId: "@amy:t",
    devices: [{ deviceId: "P1", displayName: null }],
    everywhere: true,
    endedAt,
    reason: "Phone lost; patient J Smith's photos on it",
  };

  it("says what was ended, when and by whom, and leaves out the admin's reason unless the trust chose to include it", () => {
    const text = sessionEndNoticeText(lost, { trustName: "Example Hospitals NHS Foundation Trust", includeReason: false });
    expect(text).toContain("Example Hospitals NHS Foundation Trust ended all your Matrix sessions");
    expect(text).toContain("2026-12-05 at 23:40 UTC");
    expect(text).not.toContain("J Smith");
    expect(sessionEndNoticeText(lost, { trustName: "X", includeReason: true })).toContain("Reason given: Phone lost; patient J Smith's photos on it.");
  });

  it("after one device, names it and says the others stay signed in", () => {
    const one = { ...lost, everywhere: false, devices: [{ deviceId: "TAB", displayName: "Ward tablet" }] };
    expect(sessionEndNoticeText(one, { trustName: "X", includeReason: false })).toContain(
      'X signed out your device "Ward tablet" (TAB); your other devices stay signed in',
    );
  });

  it("signing out one device tells the person, and the audit entry says the notice was sent", async () => {
    const { service, homeserver, audit, notices } = setUp(10);
    await service.signOutDevice("@amy:t", "OLD1", "@admin2:t", "old phone");
    expect(notices).toEqual([expect.objectContaining({ everywhere: false, devices: [{ deviceId: "OLD1", displayName: null }] })]);
    expect(homeserver.signOuts).toEqual([["@amy:t", ["OLD1"]]]);
    expect(audit.events.at(-1)?.details).toMatchObject({ notice: "sent" });
  });
});

describe("ending sessions", () => {
  it("a lost phone signs out every device of the person and reports the pushers removed, audited with the reason", async () => {
    const { service, homeserver, audit, touched, notices } = setUp(10);
    const result = await service.signOutEverywhere("@amy:t", "@ig:t", "phone left on a bus");
    expect(notices).toEqual([expect.objectContaining({ userId: "@amy:t", everywhere: true, reason: "phone left on a bus" })]);
    // The next posture pass reads Amy again even if her last-seen did not move.
    expect(touched).toEqual(["@amy:t"]);
    expect(result).toEqual({ userId: "@amy:t", signedOut: ["OLD1", "NOW1"], pushersRemoved: 1, pushersRemaining: 0 });
    expect(homeserver.devices.get("@amy:t")).toEqual([]);
    expect(audit.events).toEqual([
      expect.objectContaining({
        actor: "@ig:t",
        action: "devices.lost-phone.signed-out",
        target: "@amy:t",
        details: expect.objectContaining({ reason: "phone left on a bus", notice: "sent" }),
      }),
    ]);
  });

  it("a stale sweep within the limit ends the stale sessions at once and never Handover's own admin session", async () => {
    const { service, homeserver, audit, touched } = setUp(2);
    const sweep = await service.requestStaleSweep("@admin2:t", "quarterly tidy", null);
    expect(sweep.status).toBe("applied");
    expect(touched.sort()).toEqual(["@amy:t", "@bob:t"]);
    expect(homeserver.signOuts.sort()).toEqual([
      ["@amy:t", ["OLD1"]],
      ["@bob:t", ["OLD2"]],
    ]);
    expect(audit.actions()).toEqual(["devices.stale-sweep.requested", "devices.stale-sweep.applied"]);
  });

  it("a stale sweep above the limit is held, ends nothing, and approval ends exactly the sessions it listed", async () => {
    const { service, homeserver, audit } = setUp(1);
    const sweep = await service.requestStaleSweep("@admin2:t", "quarterly tidy", null);
    expect(sweep.status).toBe("held");
    expect(homeserver.signOuts).toEqual([]);
    // A session going stale after the plan is not swept by approving it.
    homeserver.devices.set("@carl:t", [{ deviceId: "OLD3", displayName: null, lastSeenAt: null, lastAddress: null, userAgent: null }]);
    const approved = await service.approveStaleSweep(sweep.id, "@admin2:t", "checked the list");
    expect(approved.status).toBe("applied");
    expect(homeserver.signOuts.map(([userId]) => userId).sort()).toEqual(["@amy:t", "@bob:t"]);
    await expect(service.approveStaleSweep(sweep.id, "@admin2:t", "again")).rejects.toMatchObject({ code: "CONFLICT" });
    expect(audit.actions()).toEqual(["devices.stale-sweep.held", "devices.stale-sweep.approved", "devices.stale-sweep.applied"]);
  });

  it("refuses to end the sessions of the account Handover works through", async () => {
    const { service } = setUp(10);
    await expect(service.signOutEverywhere("@admin:t", "@ig:t", "test")).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("lists only members of a room when asked, searched by name", async () => {
    const { service, homeserver } = setUp(10);
    homeserver.rooms.set("!ward7:t", ["@amy:t", "@bob:t"]);
    expect((await service.people(null, 25, "!ward7:t")).map((person) => person.userId)).toEqual(["@amy:t", "@bob:t"]);
    expect((await service.people("pond", 25, "!ward7:t")).map((person) => person.userId)).toEqual(["@amy:t"]);
  });

  it("lists only people in a directory group when asked (any case), searched by name, leaving out group members with no account here", async () => {
    const { service, homeserver } = setUp(10);
    homeserver.groups.set("ward 7 nurses", ["@bob:t", "@amy:t", "@gone:t"]);
    expect((await service.people(null, 25, null, "Ward 7 Nurses")).map((person) => person.userId)).toEqual(["@amy:t", "@bob:t"]);
    expect((await service.people("bob", 25, null, "ward 7 nurses")).map((person) => person.userId)).toEqual(["@bob:t"]);
    expect(await service.people(null, 25, null, "pharmacists")).toEqual([]);
    // A large group is looked up only until the page is full (concurrency 2 here: one round of two).
    homeserver.lookups = 0;
    expect((await service.people(null, 1, null, "ward 7 nurses")).map((person) => person.userId)).toEqual(["@amy:t"]);
    expect(homeserver.lookups).toBe(2);
    // With a room as well: its members who are also in the group.
    homeserver.rooms.set("!ward7:t", ["@amy:t", "@admin:t"]);
    expect((await service.people(null, 25, "!ward7:t", "ward 7 nurses")).map((person) => person.userId)).toEqual(["@amy:t"]);
  });
});
