import { describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fakes.js";
import type { DeviceRecord, LocalAccount, PusherRecord } from "./model.js";
import type { PostureThresholds } from "./posture-metrics.js";
import { emptyCounts, PosturePass, type PostureSnapshot } from "./posture-pass.js";
import { postureMetrics, rate } from "./posture-rating.js";
import { postureReport } from "./posture-report.js";

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
      clock,
      settings: { staleAfterMs: 86_400_000, homeserverIncludesContent: true, concurrency: 2, excluded: async () => new Set(["@admin:t"]) },
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
    expect(saved).toEqual([snapshot]);
    const report = postureReport(saved, THRESHOLDS);
    expect(report.latest?.day).toBe("2026-12-01");
    expect(report.latest?.adminCallsPerPerson).toBeCloseTo(8 / 3);
    expect(report.history).toEqual([
      { day: "2026-12-01", values: { devicesVerified: 1 / 3, pushersCarryingContent: 0.5, staleSessions: 1 / 3, leaversWithSessions: 1 } },
    ]);
  });
});
