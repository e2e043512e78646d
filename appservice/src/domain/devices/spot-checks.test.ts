import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import type { PersonDevices } from "./person-devices.js";
import type { RecordOutcome, SpotCheck } from "./spot-check.js";
import { spotCheckCsv } from "./spot-check-csv.js";
import { type NewSpotCheck, policyFindings, SCHEDULE_ACTOR, type SpotCheckStore, SpotChecks } from "./spot-checks.js";

const person = (userId: string, overrides: Partial<PersonDevices> = {}): PersonDevices => ({
  userId,
  displayName: null,
  directory: "in-directory",
  hasCrossSigningIdentity: true,
  watchingSince: null,
  devices: [],
  pushers: [],
  staleSessions: 0,
  devicesNotCrossSigned: 0,
  pushersCarryingContent: 0,
  ...overrides,
});

class MemorySpotChecks implements SpotCheckStore {
  readonly checks: SpotCheck[] = [];
  async create(check: NewSpotCheck) {
    const stored: SpotCheck = {
      id: this.checks.length + 1,
      trigger: check.trigger,
      startedBy: check.startedBy,
      startedAt: check.startedAt.toISOString(),
      sample: check.sample,
      people: check.people.map((p) => ({ ...p, checklist: null, outcome: null, note: null, recordedBy: null, recordedAt: null })),
      recorded: 0,
    };
    this.checks.push(stored);
    return stored;
  }
  async get(id: number) {
    return this.checks.find((check) => check.id === id) ?? null;
  }
  async list() {
    return this.checks.map(({ people, ...rest }) => ({ ...rest, size: people.length }));
  }
  async recordOutcome(id: number, userId: string, outcome: RecordOutcome & { recordedBy: string; recordedAt: Date }) {
    const found = this.checks.find((check) => check.id === id)?.people.find((p) => p.userId === userId);
    if (!found) return false;
    Object.assign(found, {
      checklist: outcome.checklist,
      outcome: outcome.outcome,
      note: outcome.note ?? null,
      recordedBy: outcome.recordedBy,
      recordedAt: outcome.recordedAt.toISOString(),
    });
    return true;
  }
  async lastScheduledAt(group: string | null) {
    const scheduled = this.checks
      .filter((check) => check.trigger === "scheduled" && (check.sample.group ?? "").toLowerCase() === (group ?? "").toLowerCase())
      .at(-1);
    return scheduled ? new Date(scheduled.startedAt) : null;
  }
}

function setUp() {
  const clock = new FakeClock();
  const audit = new RecordingAudit();
  const store = new MemorySpotChecks();
  const everyone = Array.from({ length: 10 }, (_, i) => `@p${i}:t`);
  const checks = new SpotChecks({
    accounts: {
      async *pages() {
        yield [...everyone, "@admin:t"].map((userId) => ({ userId, displayName: null }));
      },
    },
    posture: async (userId) =>
      userId === "@p1:t"
        ? person(userId, { pushers: [{ kind: "http", appId: "x", appDisplayName: "Element", deviceDisplayName: "Pixel", format: null, carriesContent: true }] })
        : person(userId),
    groups: { membersOf: async (group) => new Set(group.toLowerCase() === "ward 7 nurses" ? ["@p5:t", "@p7:t", "@p9:t", "@admin:t"] : []) },
    store,
    pdf: { render: async () => new TextEncoder().encode("%PDF-1.3") },
    audit,
    clock,
    pick: (_size, count) => Array.from({ length: count }, (_, i) => i),
    excluded: async () => new Set(["@admin:t"]),
  });
  return { checks, audit, store, clock };
}

describe("spot checks", () => {
  it("samples N people or a share of everyone, never Handover's own accounts, with each person's findings against the policy", async () => {
    const { checks, audit } = setUp();
    const byCount = await checks.start("on-demand", "@ig:t", { people: 3 });
    expect(byCount.people.map((p) => [p.userId, p.meetsServerPolicy])).toEqual([
      ["@p0:t", true],
      ["@p1:t", false],
      ["@p2:t", true],
    ]);
    expect(byCount.people[1]?.findings).toEqual(["pusher Element on Pixel carries message content"]);
    expect(byCount.sample).toEqual({ people: 3, share: null, group: null, outOf: 10 });
    expect((await checks.start("on-demand", "@ig:t", { share: 0.25 })).people).toHaveLength(3);
    expect(audit.actions()).toEqual(["devices.spot-check.started", "devices.spot-check.started"]);
  });

  it("samples only a directory group's people when a group is given, the share being of that group", async () => {
    const { checks, audit } = setUp();
    const check = await checks.start("on-demand", "@ig:t", { people: 10, group: "Ward 7 Nurses" });
    expect(check.people.map((p) => p.userId)).toEqual(["@p5:t", "@p7:t", "@p9:t"]);
    expect(check.sample).toEqual({ people: 10, share: null, group: "Ward 7 Nurses", outOf: 3 });
    expect((await checks.start("on-demand", "@ig:t", { share: 0.5, group: "ward 7 nurses" })).people.map((p) => p.userId)).toEqual(["@p5:t", "@p7:t"]);
    expect(audit.events[0]?.details).toMatchObject({ group: "Ward 7 Nurses", sampled: 3, outOf: 3 });
    await expect(checks.start("on-demand", "@ig:t", { people: 2, group: "Ward 7 Nurse" })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(audit.actions()).toEqual(["devices.spot-check.started", "devices.spot-check.started"]);
  });

  it("records the IG lead's checklist and outcome for a person in the sample only, audited", async () => {
    const { checks, audit } = setUp();
    const check = await checks.start("on-demand", "@ig:t", { people: 2 });
    const outcome = {
      checklist: { screenLock: "yes", photoLibraryUnlinked: "no", lockScreenPreviewsOff: "yes" },
      outcome: "action-needed",
      note: "photos saved",
    } as const;
    const updated = await checks.record(check.id, "@p0:t", "@ig:t", outcome);
    expect(updated.people[0]).toMatchObject({ outcome: "action-needed", recordedBy: "@ig:t", checklist: outcome.checklist });
    await expect(checks.record(check.id, "@p9:t", "@ig:t", outcome)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(audit.events.at(-1)).toMatchObject({
      action: "devices.spot-check.outcome-recorded",
      target: "@p0:t",
      details: { spotCheck: check.id, outcome: "action-needed" },
    });
  });

  it("a scheduled spot check starts only when the last one is older than the schedule", async () => {
    const { checks, clock } = setUp();
    const DAY = 86_400_000;
    expect(await checks.runSchedule(30 * DAY, 2)).toHaveLength(1);
    clock.advance(29 * DAY);
    expect(await checks.runSchedule(30 * DAY, 2)).toEqual([]);
    clock.advance(2 * DAY);
    expect((await checks.runSchedule(30 * DAY, 2)).map((check) => check.trigger)).toEqual(["scheduled"]);
  });

  it("a schedule limited to directory groups starts one spot check per group, each sampling only that group's people", async () => {
    const { checks, clock, audit } = setUp();
    const DAY = 86_400_000;
    const started = await checks.runSchedule(30 * DAY, 2, ["Ward 7 Nurses"]);
    expect(started.map((check) => check.sample.group)).toEqual(["Ward 7 Nurses"]);
    expect(started[0]?.people.every((person) => ["@p5:t", "@p7:t", "@p9:t"].includes(person.userId))).toBe(true);
    expect(started[0]?.sample.outOf).toBe(3);
    expect(audit.events.at(-1)).toMatchObject({ actor: SCHEDULE_ACTOR, details: { trigger: "scheduled", group: "Ward 7 Nurses" } });
    // Each group keeps its own schedule: a group added later is due at once, the first is not.
    clock.advance(DAY);
    const unknown = checks.runSchedule(30 * DAY, 2, ["ward 7 nurses", "Nobody here"]);
    await expect(unknown).rejects.toThrow(/Nobody with an account on this homeserver is in the directory group "Nobody here"/);
  });

  it("a group nobody is in does not stop the schedule's other groups", async () => {
    const { checks, store } = setUp();
    await expect(checks.runSchedule(86_400_000, 1, ["Nobody here", "Ward 7 Nurses"])).rejects.toThrow(/Nobody here/);
    expect(store.checks.map((check) => check.sample.group)).toEqual(["Ward 7 Nurses"]);
  });

  it("exports are audited, and the CSV defuses cells a spreadsheet would run as formulas", async () => {
    const { checks, audit, store } = setUp();
    const check = await checks.start("on-demand", "@ig:t", { people: 1 });
    (store.checks[0]?.people[0] as { displayName: string | null }).displayName = '=HYPERLINK("http://x")';
    const csv = await checks.csv(check.id, "@auditor:t");
    expect(csv.split("\r\n")[1]).toContain(`"'=HYPERLINK(""http://x"")"`);
    await checks.pdf(check.id, "@auditor:t");
    expect(audit.events.slice(-2).map((event) => event.details?.format)).toEqual(["csv", "pdf"]);
  });

  it("a person who left with sessions, unverified and stale devices all count against the policy", () => {
    const device = {
      deviceId: "D",
      displayName: null,
      client: "Element on iOS",
      userAgent: null,
      lastSeenAt: null,
      lastAddress: null,
      firstSeenAt: null,
      crossSigned: false,
      stale: true,
    };
    expect(policyFindings(person("@x:t", { directory: "left", devices: [device] }))).toEqual([
      "has left the trust but still has sessions",
      "device D (Element on iOS) is not cross-signed",
      "device D (Element on iOS) is stale: last used never",
    ]);
  });
});

describe("spot check CSV", () => {
  it("has a header and one row per person", () => {
    const check: SpotCheck = {
      id: 4,
      trigger: "scheduled",
      startedBy: "handover:spot-check-schedule",
      startedAt: "2026-12-01T09:00:00.000Z",
      sample: { people: 1, share: null, outOf: 5 },
      people: [
        {
          userId: "@a:t",
          displayName: "A",
          findings: [],
          meetsServerPolicy: true,
          checklist: null,
          outcome: null,
          note: null,
          recordedBy: null,
          recordedAt: null,
        },
      ],
      recorded: 0,
    };
    expect(spotCheckCsv(check).split("\r\n")).toEqual([
      "spot_check,started_at,user_id,display_name,meets_server_policy,findings,screen_lock,photo_library_unlinked,lock_screen_previews_off,outcome,note,recorded_by,recorded_at",
      "4,2026-12-01T09:00:00.000Z,'@a:t,A,true,,,,,,,,",
      "",
    ]);
  });
});
