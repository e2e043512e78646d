import { describe, expect, it } from "vitest";
import { clientName } from "./client-name.js";
import { personPosture } from "./posture.js";

const now = new Date("2026-12-01T12:00:00Z");
const DAY = 86_400_000;
const settings = { staleAfterMs: 30 * DAY, homeserverIncludesContent: true };
const device = (deviceId: string, lastSeenAt: Date | null, userAgent: string | null = null) => ({
  deviceId,
  displayName: null,
  lastSeenAt,
  lastAddress: "10.0.0.7",
  userAgent,
});
const pusher = (format: string | null) => ({ kind: "http", appId: "im.vector.app.android", appDisplayName: "Element", deviceDisplayName: "Pixel", format });

describe("a person's device posture", () => {
  it("marks only devices signed by the person's self-signing key as cross-signed, and counts the rest", () => {
    const posture = personPosture(
      {
        account: { userId: "@amy:trust", displayName: "Amy" },
        devices: [device("SIGNED", now), device("UNSIGNED", now)],
        pushers: [],
        crossSigning: { hasIdentity: true, signedDevices: new Set(["SIGNED"]) },
        standing: "in-directory",
      },
      now,
      settings,
    );
    expect(posture.devices.map((d) => [d.deviceId, d.crossSigned])).toEqual([
      ["SIGNED", true],
      ["UNSIGNED", false],
    ]);
    expect(posture.devicesNotCrossSigned).toBe(1);
    expect(posture.hasCrossSigningIdentity).toBe(true);
  });

  it("a pusher carries content unless it asks for event IDs only or the homeserver strips content for everyone", () => {
    const facts = {
      account: { userId: "@amy:trust", displayName: null },
      devices: [],
      pushers: [pusher(null), pusher("event_id_only")],
      crossSigning: undefined,
      standing: "not-managed" as const,
    };
    expect(personPosture(facts, now, settings).pushers.map((p) => p.carriesContent)).toEqual([true, false]);
    expect(personPosture(facts, now, { ...settings, homeserverIncludesContent: false }).pushersCarryingContent).toBe(0);
  });

  it("a session unused for longer than the configured age, or never seen, is stale", () => {
    const posture = personPosture(
      {
        account: { userId: "@amy:trust", displayName: null },
        devices: [device("RECENT", new Date(now.getTime() - 29 * DAY)), device("OLD", new Date(now.getTime() - 31 * DAY)), device("NEVER", null)],
        pushers: [],
        crossSigning: undefined,
        standing: "left",
      },
      now,
      settings,
    );
    expect(posture.devices.map((d) => [d.deviceId, d.stale])).toEqual([
      ["RECENT", false],
      ["OLD", true],
      ["NEVER", true],
    ]);
    expect(posture.staleSessions).toBe(2);
    expect(posture.directory).toBe("left");
  });
});

describe("client names from user agents", () => {
  it("names the app and the system people recognise", () => {
    expect(clientName("Element/1.6.10 (Google Pixel 7; Android 14; UP1A; Flavour GooglePlay; MatrixAndroidSdk2 1.6.10)")).toBe("Element on Android");
    expect(clientName("Element X/1.8.1 (iPhone15,3; iOS 17.5; Scale/3.00)")).toBe("Element X on iOS");
    expect(clientName("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")).toBe("Chrome on Windows");
    expect(clientName("node")).toBe("matrix-js-sdk (script or bot)");
    expect(clientName(null)).toBe("unknown client");
  });
});
