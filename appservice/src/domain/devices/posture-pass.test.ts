import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fakes.js";
import type { DeviceRecord, LocalAccount, PusherRecord } from "./model.js";
import type { PostureThresholds } from "./posture-metrics.js";
import { emptyCounts, PosturePass, type PostureSnapshot } from "./posture-pass.js";
import { postureMetrics, rate } from "./posture-rating.js";
import { postureReport } from "./posture-report.js";
import type { DeviceSightings, PersonFactsRecord, PostureWatch, WatchedPerson } from "./watch.js";

/** The posture watch and first sightings in memory. */
class MemoryWatch implements PostureWatch, Pick<DeviceSightings, "sighted"> {
  readonly people = new Map<string, WatchedPerson>();
  readonly sightings = new Map<string, Date>();
  lastFull: Date | null = null;
  async load() {
    return new Map(this.people);
  }
  async save(people: readonly { userId: string; lastSeenTs: number | null; facts: PersonFactsRecord }[], readAt: Date) {
    for (const person of people) this.people.set(person.userId, { lastSeenTs: person.lastSeenTs, facts: person.facts, touchedSinceRead: false, readAt });
  }
  async keepOnly(userIds: readonly string[]) {
    for (const userId of this.people.keys()) if (!userIds.includes(userId)) this.people.delete(userId);
  }
  async lastFullPassAt() {
    return this.lastFull;
  }
  async fullPassDone(at: Date) {
    this.lastFull = at;
  }
  async sighted(devices: readonly { userId: string; deviceId: string }[], at: Date) {
    for (const device of devices) if (!this.sightings.has(`${device.userId}|${device.deviceId}`)) this.sightings.set(`${device.userId}|${device.deviceId}`, at);
  }
}

const THRESHOLDS: PostureThresholds = {
  devicesVerified: { amber: 0.9, red: 0.75 },
  pushersCarryingContent: { amber: 0.05, red: 0.2 },
  staleSessions: { amber: 0.1, red: 0.25 },
  leaversWithSessions: { amber: 0, red: 2 },
};

describe("posture ratings", () => {
  it("verified devices: green at or above amber, amber down to red, red below", () => {
    expect([0.95, 0.9, 0.8, 0.75, 0.7].map((share) => rate("devicesVerified", share, THRESHOLDS))).toEqual(["green", "green", "amber", "amber", "red"]);
  });

  it("content in pushes, stale sessions and leavers: green at or below amber, red above red", () => {
    expect([0.05, 0.1, 0.21].map((share) => rate("pushersCarryingContent", share, THRESHOLDS))).toEqual(["green", "amber", "red"]);
    expect([0, 1, 2, 3].map((count) => rate("leaversWithSessions", count, THRESHOLDS))).toEqual(["green", "amber", "amber", "red"]);
  });

  it("rates shares of the counts, and a measure with nothing to share is not a problem", () => {
    const metrics = postureMetrics({ ...emptyCounts(), devices: 10, devicesCrossSigned: 7, staleSessions: 1, leaversWithSessions: 1 }, THRESHOLDS);
    expect(metrics.map((metric) => [metric.name, metric.value, metric.rating])).toEqual([
      ["devicesVerified", 0.7, "red"],
      ["pushersCarryingContent", null, "green"],
      ["staleSessions", 0.1, "green"],
      ["leaversWithSessions", 1, "amber"],
    ]);
  });
});

describe("the posture pass", () => {
  it("counts every person's devices, pushers, stale sessions and leavers with sessions, two admin calls a person, and saves the day's snapshot", async () => {
    const clock = new FakeClock(new Date("2026-12-01T03:00:00Z"));
    const recent = clock.now();
    const device = (deviceId: string, lastSeenAt: Date | null): DeviceRecord => ({
      deviceId,
      displayName: null,
      lastSeenAt,
      lastAddress: null,
      userAgent: null,
    });
    const devices: Record<string, DeviceRecord[]> = {
      "@amy:t": [device("A1", recent), device("A2", null)],
      "@bob:t": [device("B1", recent)],
      "@cat:t": [],
      "@admin:t": [device("ADMIN", recent)],
    };
    const pushers: Record<string, PusherRecord[]> = {
      "@amy:t": [{ kind: "http", appId: "x", appDisplayName: null, deviceDisplayName: null, format: null }],
      "@bob:t": [{ kind: "http", appId: "x", appDisplayName: null, deviceDisplayName: null, format: "event_id_only" }],
    };
    const saved: PostureSnapshot[] = [];
    const watch = new MemoryWatch();
    const pass = new PosturePass({
      accounts: {
        async *pages() {
          const all: LocalAccount[] = Object.keys(devices).map((userId) => ({ userId, displayName: null }));
          yield all.slice(0, 2);
          yield all.slice(2);
        },
      },
      admin: { devices: async (userId) => devices[userId] ?? [], pushers: async (userId) => pushers[userId] ?? [] },
      crossSigning: { crossSigned: async () => new Map([["@amy:t", { hasIdentity: true, signedDevices: new Set(["A1"]) }]]) },
      directory: { standing: async (userIds) => new Map(userIds.filter((userId) => userId === "@bob:t").map((userId) => [userId, "left" as const])) },
      snapshots: { save: async (snapshot) => void saved.push(snapshot), recent: async () => saved },
      watch,
      sightings: watch,
      clock,
      settings: {
        staleAfterMs: 86_400_000,
        homeserverIncludesContent: true,
        concurrency: 2,
        excluded: async () => new Set(["@admin:t"]),
        fullEveryMs: 7 * 86_400_000,
        lastSeenSettlesMs: 150_000,
      },
    });
    const snapshot = await pass.run();
    expect(snapshot.counts).toEqual({
      people: 3,
      peopleWithDevices: 2,
      devices: 3,
      devicesCrossSigned: 1,
      pushers: 2,
      pushersCarryingContent: 1,
      staleSessions: 1,
      leavers: 1,
      leaversWithSessions: 1,
    });
    expect(snapshot.adminCalls).toBe(2 + 3 * 2);
    expect(snapshot).toMatchObject({ kind: "full", peopleRead: 3 });
    expect(saved).toEqual([snapshot]);
    const report = postureReport(saved, THRESHOLDS, { includesContent: true, source: "config", checkedAt: null, note: null });
    expect(report.latest?.day).toBe("2026-12-01");
    expect(report.latest?.adminCallsPerPerson).toBeCloseTo(8 / 3);
    expect(report.history).toEqual([
      { day: "2026-12-01", values: { devicesVerified: 1 / 3, pushersCarryingContent: 0.5, staleSessions: 1 / 3, leaversWithSessions: 1 } },
    ]);
  });
});

describe("incremental posture passes", () => {
  const DAY = 86_400_000;
  const SETTLES_MS = 150_000;
  function setUp() {
    const clock = new FakeClock(new Date("2026-12-01T03:00:00Z"));
    const device = (deviceId: string): DeviceRecord => ({ deviceId, displayName: null, lastSeenAt: clock.now(), lastAddress: null, userAgent: null });
    const people = Array.from({ length: 150 }, (_, i) => `@p${i}:t`);
    const devices = new Map(people.map((userId) => [userId, [device(`${userId}-D1`)]]));
    const lastSeen = new Map(people.map((userId) => [userId, 1_000]));
    const pushers = new Map<string, PusherRecord[]>();
    const reads: string[] = [];
    const watch = new MemoryWatch();
    const pass = new PosturePass({
      accounts: {
        async *pages(size) {
          for (let start = 0; start < people.length; start += size)
            yield people.slice(start, start + size).map((userId) => ({ userId, displayName: null, lastSeenTs: lastSeen.get(userId) ?? null }));
        },
      },
      admin: {
        devices: async (userId) => {
          reads.push(userId);
          return devices.get(userId) ?? [];
        },
        pushers: async (userId) => pushers.get(userId) ?? [],
      },
      crossSigning: { crossSigned: async () => new Map() },
      directory: { standing: async () => new Map() },
      snapshots: { save: async () => {}, recent: async () => [] },
      watch,
      sightings: watch,
      clock,
      settings: {
        staleAfterMs: 30 * DAY,
        homeserverIncludesContent: true,
        concurrency: 4,
        excluded: async () => new Set(),
        fullEveryMs: 7 * DAY,
        lastSeenSettlesMs: SETTLES_MS,
      },
    });
    return { clock, people, devices, pushers, lastSeen, reads, watch, pass, device };
  }

  it("between full passes, reads only the people whose last-seen moved (or whom Handover touched) and counts the rest from their last read", async () => {
    const { clock, devices, lastSeen, reads, watch, pass, device } = setUp();
    const first = await pass.run();
    expect(first).toMatchObject({ kind: "full", peopleRead: 150, adminCalls: 2 + 150 * 2 });
    expect(first.counts.devices).toBe(150);

    reads.length = 0;
    clock.advance(3_600_000);
    devices.set("@p7:t", [device("@p7:t-D1"), device("@p7:t-NEW")]);
    lastSeen.set("@p7:t", 2_000);
    const second = await pass.run();
    expect(reads).toEqual(["@p7:t"]);
    expect(second).toMatchObject({ kind: "incremental", peopleRead: 1, adminCalls: 2 + 2 });
    expect(second.counts.devices).toBe(151);
    // The new device's first sighting is this pass; the others' the first pass.
    expect(watch.sightings.get("@p7:t|@p7:t-NEW")).toEqual(clock.now());
    expect(watch.sightings.get("@p7:t|@p7:t-D1")).toEqual(first.takenAt);

    // A person Handover signed out is read again though their last-seen did not move.
    reads.length = 0;
    devices.set("@p9:t", []);
    (watch.people.get("@p9:t") as WatchedPerson).touchedSinceRead = true;
    const third = await pass.run();
    expect(reads).toEqual(["@p9:t"]);
    expect(third.counts.devices).toBe(150);
  });

  it("a person read less than lastSeenSettlesMs after their recorded last-seen is read again (a change then does not move last-seen), until a read comes after it", async () => {
    const { clock, pushers, lastSeen, reads, pass } = setUp();
    await pass.run();
    clock.advance(3_600_000);
    // p3 used their phone ten seconds ago: the homeserver recorded it, and records nothing more
    // for that token and address for a while.
    lastSeen.set("@p3:t", clock.now().getTime() - 10_000);
    reads.length = 0;
    await pass.run();
    expect(reads).toEqual(["@p3:t"]);

    // A minute later p3 sets up a pusher that carries content; last-seen does not move.
    pushers.set("@p3:t", [{ kind: "http", appId: "x", appDisplayName: null, deviceDisplayName: null, format: null }]);
    clock.advance(60_000);
    reads.length = 0;
    const next = await pass.run();
    expect(reads).toEqual(["@p3:t"]);
    expect(next.counts).toMatchObject({ pushers: 1, pushersCarryingContent: 1 });

    // Read again once more, now after last-seen has settled; from then on only a move reads p3.
    clock.advance(600_000);
    reads.length = 0;
    await pass.run();
    expect(reads).toEqual(["@p3:t"]);
    reads.length = 0;
    await pass.run();
    expect(reads).toEqual([]);
  });

  it("a pass stopped after keeping what it read but before recording first sightings reads those people again, so no device goes without its first sighting", async () => {
    const { clock, devices, lastSeen, watch, pass, device } = setUp();
    await pass.run();
    clock.advance(3_600_000);
    devices.set("@p5:t", [device("@p5:t-D1"), device("@p5:t-NEW")]);
    lastSeen.set("@p5:t", 2_000);
    const sighted = watch.sighted.bind(watch);
    watch.sighted = async () => {
      throw new Error("process killed");
    };
    await expect(pass.run()).rejects.toThrow("process killed");
    watch.sighted = sighted;
    clock.advance(3_600_000);
    await pass.run();
    expect(watch.sightings.get("@p5:t|@p5:t-NEW")).toEqual(clock.now());
  });

  it("staleness is worked out afresh from the last read, and a full pass comes round again after fullEvery", async () => {
    const { clock, reads, pass } = setUp();
    await pass.run();
    clock.advance(6 * DAY);
    reads.length = 0;
    expect(await pass.run()).toMatchObject({ kind: "incremental", peopleRead: 0, adminCalls: 2 });
    clock.advance(31 * DAY - 6 * DAY);
    const full = await pass.run();
    expect(full).toMatchObject({ kind: "full", peopleRead: 150 });
    expect(full.counts.staleSessions).toBe(150);
  });

  it("a person no longer listed (deactivated) is forgotten, so they are read afresh if they return", async () => {
    const { people, watch, pass } = setUp();
    await pass.run();
    people.pop();
    await pass.run();
    expect(watch.people.has("@p149:t")).toBe(false);
  });
});
