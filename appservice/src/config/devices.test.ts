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
