import { describe, expect, it } from "vitest";
import { devicesSchema } from "./devices.js";

describe("the devices section", () => {
  it("defaults: 90 days to stale, 20 sessions before a sweep waits for approval, daily posture", () => {
    const config = devicesSchema.parse({});
    expect(config).toMatchObject({
      staleAfter: 90 * 86_400_000,
      staleSweep: { approvalAbove: 20 },
      posture: { interval: 86_400_000 },
      homeserverIncludesContent: true,
    });
    expect(config.posture.thresholds.devicesVerified).toEqual({ amber: 0.9, red: 0.75 });
  });

  it("defaults: a full posture pass weekly, the push probe on, notices without the admin's reason, scheduled spot checks of everyone", () => {
    const config = devicesSchema.parse({});
    expect(config.posture.fullEvery).toBe(7 * 86_400_000);
    expect(config.pushProbe).toEqual({ enabled: true, every: 86_400_000, timeout: 30_000 });
    expect(config.sessionNotices).toEqual({ enabled: true, includeReason: false });
    expect(config.spotChecks.groups).toEqual([]);
  });

  it("refuses a scheduled group named twice (in any case), naming the key", () => {
    const result = devicesSchema.safeParse({ spotChecks: { groups: ["Ward 7", "ward 7"] } });
    expect(result.error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`)).toEqual([
      "spotChecks.groups: each group once (names compare in any case)",
    ]);
  });

  it("refuses thresholds the wrong way round, naming the measure", () => {
    const result = devicesSchema.safeParse({ posture: { thresholds: { devicesVerified: { amber: 0.5, red: 0.9 }, staleSessions: { amber: 0.3, red: 0.1 } } } });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    expect(paths).toEqual([
      "posture.thresholds.devicesVerified: red must not be above amber (higher is better)",
      "posture.thresholds.staleSessions: red must not be below amber (lower is better)",
    ]);
  });
});
