import { describe, expect, it } from "vitest";
import { FakeClock, RecordingAudit } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import { ActionExecutor } from "./executor.js";
import { IdentityTemplate } from "./identity.js";
import { DirectoryAnswerRefused, type DirectorySnapshot, type DirectorySource, type SyncRule } from "./model.js";
import type { ActualRoom, KnownLeaver, MembershipAction } from "./planner.js";
import type { AccountControl, IdentityStore, MembershipReader, MembershipWriter, RuleStore, RunAction, RunStatus, RunStore, SyncRun } from "./ports.js";
import { DirectorySync } from "./reconciler.js";

const SERVER = "trust.test";
const BOT = "@handover:trust.test";
const ROOM = "!ward:trust.test";

class FakeSource implements DirectorySource {
  readonly kind = "ldap";
  readonly name = "ad";
  members = ["amy", "ben", "cat"];
  failure: Error | null = null;
  async snapshot(): Promise<DirectorySnapshot> {
    if (this.failure) throw this.failure;
    return {
      source: "ad",
      people: this.members.map((name) => ({ id: name, username: name, mail: null, attributes: {}, disabled: false, groupIds: ["g"] })),
      groups: [{ id: "g", name: "Ward", subgroupIds: [] }],
    };
  }
  async test() {
    return { ok: true, message: "" };
  }
}

/** A homeserver room in memory: writes change what reads return. */
class FakeHomeserver implements MembershipReader, MembershipWriter, AccountControl {
  readonly members = new Map<string, "join" | "invite" | "leave">([[BOT, "join"]]);
  readonly writes: string[] = [];
  failNext = 0;
  async readRoom(roomId: string): Promise<ActualRoom | null> {
    return { roomId, members: new Map(this.members), users: { [BOT]: 100 }, usersDefault: 0, botCanManage: true };
  }
  private write(what: string) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new HandoverError("HOMESERVER_UNAVAILABLE", "connection reset");
    }
    this.writes.push(what);
  }
  async takeRoom(roomId: string) {
    this.write(`take ${roomId}`);
  }
  async invite(_roomId: string, userId: string) {
    this.write(`invite ${userId}`);
    this.members.set(userId, "invite");
  }
  async forceJoin(_roomId: string, userId: string) {
    this.write(`join ${userId}`);
    this.members.set(userId, "join");
  }
  async kick(_roomId: string, userId: string) {
    this.write(`kick ${userId}`);
    this.members.set(userId, "leave");
  }
  async setUserLevels() {
    this.write("power");
  }
  async endSessions(userId: string) {
    this.write(`logout ${userId}`);
    return 1;
  }
  async lock(userId: string) {
    this.write(`lock ${userId}`);
  }
  async deactivate(userId: string) {
    this.write(`deactivate ${userId}`);
  }
}

class MemoryRuns implements RunStore {
  runs: SyncRun[] = [];
  stored = new Map<number, RunAction[]>();
  async create(run: Omit<SyncRun, "id" | "finishedAt" | "decidedBy">, actions: readonly MembershipAction[]) {
    const id = this.runs.length + 1;
    this.runs.push({ ...run, id, finishedAt: null, decidedBy: null });
    this.stored.set(
      id,
      actions.map((action) => ({ action, outcome: null, error: null })),
    );
    return id;
  }
  async get(id: number) {
    return this.runs.find((run) => run.id === id) ?? null;
  }
  async list() {
    return [...this.runs].reverse();
  }
  async actions(id: number) {
    return this.stored.get(id) ?? [];
  }
  async openHeld() {
    return this.runs.find((run) => run.status === "held") ?? null;
  }
  async replaceActions(id: number, actions: readonly MembershipAction[]) {
    this.stored.set(
      id,
      actions.map((action) => ({ action, outcome: null, error: null })),
    );
  }
  async setStatus(id: number, status: RunStatus, fields: { decidedBy?: string } = {}) {
    const run = this.runs.find((candidate) => candidate.id === id) as SyncRun;
    run.status = status;
    if (fields.decidedBy) run.decidedBy = fields.decidedBy;
  }
  async setOutcome(id: number, index: number, outcome: "done" | "failed", error: string | null) {
    const item = this.stored.get(id)?.[index];
    if (item) Object.assign(item, { outcome, error });
  }
  async interruptApplying() {
    return [];
  }
}

class MemoryIdentities implements IdentityStore {
  activeSet = new Set<string>();
  left: KnownLeaver[] = [];
  writes = 0;
  async active() {
    return [...this.activeSet];
  }
  async leavers() {
    return this.left;
  }
  async markActive(userIds: readonly string[]) {
    this.writes++;
    for (const userId of userIds) this.activeSet.add(userId);
    this.left = this.left.filter((leaver) => !userIds.includes(leaver.userId));
  }
  async markLeft(userIds: readonly string[], at: Date) {
    this.writes++;
    for (const userId of userIds) {
      this.activeSet.delete(userId);
      this.left.push({ userId, leftAt: at, sessionsEnded: false, accountClosed: false });
    }
  }
  async markSessionsEnded(userId: string) {
    this.writes++;
    const leaver = this.left.find((candidate) => candidate.userId === userId);
    if (leaver) leaver.sessionsEnded = true;
  }
  async markClosed(userId: string) {
    this.writes++;
    const leaver = this.left.find((candidate) => candidate.userId === userId);
    if (leaver) leaver.accountClosed = true;
  }
}

function setup(maxRemovalShare = 0.05) {
  const source = new FakeSource();
  const homeserver = new FakeHomeserver();
  const runs = new MemoryRuns();
  const identities = new MemoryIdentities();
  const audit = new RecordingAudit();
  const clock = new FakeClock();
  const rule: SyncRule = { id: "ward", description: "", group: "Ward", attribute: null, rooms: [ROOM], joinMode: "force-join", power: [], enabled: true };
  const rules: RuleStore = { list: async () => [rule], get: async () => rule, save: async () => ({ created: false }), remove: async () => false };
  const executor = new ActionExecutor(homeserver, homeserver, audit, clock, { writesPerSecond: 1000, attempts: 3, wait: async () => {} });
  const sync = new DirectorySync({
    sources: [source],
    rules,
    identity: new IdentityTemplate("{username}", SERVER),
    reader: homeserver,
    executor,
    runs,
    identities,
    audit,
    clock,
    guard: { maxRemovalShare, maxRemovals: 500 },
    plan: { serverName: SERVER, botUserId: BOT, exempt: new Set(), leaverPolicy: { action: "lock", graceMs: 0, endSessions: true } },
  });
  return { sync, source, homeserver, runs, identities, audit };
}

describe("DirectorySync", () => {
  it("applies a plan, audits every change with its run and rule, then a second run writes nothing anywhere", async () => {
    const { sync, homeserver, runs, identities, audit } = setup();
    const first = await sync.run({ trigger: "schedule" });
    expect(first.status).toBe("applied");
    expect(homeserver.writes).toEqual(["join @amy:trust.test", "join @ben:trust.test", "join @cat:trust.test"]);
    expect(audit.events[0]).toMatchObject({ action: "directory.member.join", details: { run: 1, rules: ["ward"], sources: ["ad"] } });
    const before = { writes: homeserver.writes.length, audit: audit.events.length, runs: runs.runs.length, identities: identities.writes };
    const second = await sync.run({ trigger: "schedule" });
    expect(second.status).toBe("noop");
    expect({ writes: homeserver.writes.length, audit: audit.events.length, runs: runs.runs.length, identities: identities.writes }).toEqual(before);
  });

  it("holds a mass removal, records it once, and applies it when approved", async () => {
    const { sync, source, homeserver, runs } = setup(0.3);
    await sync.run({ trigger: "schedule" });
    source.members = ["amy"];
    const held = await sync.run({ trigger: "schedule" });
    expect(held).toMatchObject({ status: "held", summary: { removals: 2, managedMemberships: 3 } });
    expect(homeserver.members.get("@ben:trust.test")).toBe("join");
    expect((await sync.run({ trigger: "schedule" })).runId).toBe(held.runId);
    expect(runs.runs.filter((run) => run.status === "held")).toHaveLength(1);

    const approved = await sync.approve(held.runId as number, "@alice:trust.test");
    expect(approved.status).toBe("applied");
    expect(homeserver.members.get("@ben:trust.test")).toBe("leave");
    expect(homeserver.writes.slice(3)).toEqual([
      "kick @ben:trust.test",
      "kick @cat:trust.test",
      "logout @ben:trust.test",
      "lock @ben:trust.test",
      "logout @cat:trust.test",
      "lock @cat:trust.test",
    ]);
    await expect(sync.approve(held.runId as number, "@alice:trust.test")).rejects.toThrow(/not held/);
  });

  it("refuses an erroring or empty directory answer and changes nothing", async () => {
    const { sync, source, homeserver, audit } = setup();
    source.failure = new Error("connect ECONNREFUSED");
    expect(await sync.run({ trigger: "schedule" })).toMatchObject({ status: "refused", reason: expect.stringMatching(/ECONNREFUSED/) });
    source.failure = new DirectoryAnswerRefused("ad", "truncated", "truncated");
    expect((await sync.run({ trigger: "schedule" })).status).toBe("refused");
    source.failure = null;
    source.members = [];
    expect((await sync.run({ trigger: "schedule" })).status).toBe("refused");
    expect(homeserver.writes).toEqual([]);
    expect(audit.actions()).toEqual(["directory.run.refused", "directory.run.refused", "directory.run.refused"]);
  });

  it("retries a write the homeserver could not take, and a dry run writes nothing", async () => {
    const { sync, homeserver, runs } = setup();
    const dry = await sync.run({ trigger: "manual", dryRun: true });
    expect(dry).toMatchObject({ status: "dry-run", runId: null });
    expect(dry.actions).toHaveLength(3);
    expect(runs.runs).toHaveLength(0);
    homeserver.failNext = 2;
    expect((await sync.run({ trigger: "manual" })).status).toBe("applied");
    expect(homeserver.writes).toHaveLength(3);
  });

  it("previews a source's answer in place of the stored one (a CSV not yet imported) only in a dry run", async () => {
    const { sync, homeserver, runs } = setup(1);
    await sync.run({ trigger: "schedule" });
    const replace: DirectorySnapshot = {
      source: "ad",
      people: [{ id: "dan", username: "dan", mail: null, attributes: {}, disabled: false, groupIds: ["g"] }],
      groups: [{ id: "g", name: "Ward", subgroupIds: [] }],
    };
    const preview = await sync.run({ trigger: "csv", dryRun: true, replace });
    const described = preview.actions.map((action) => `${action.kind} ${"userId" in action ? action.userId : ""}`);
    expect(described.filter((text) => /^(force-join|kick) /.test(text)).sort()).toEqual([
      "force-join @dan:trust.test",
      "kick @amy:trust.test",
      "kick @ben:trust.test",
      "kick @cat:trust.test",
    ]);
    expect(described).toContain("lock @amy:trust.test"); // gone from the directory: leavers
    const writes = homeserver.writes.length;
    // Without dryRun the replacement is ignored: the stored answer is what a run applies.
    expect((await sync.run({ trigger: "csv", replace })).status).toBe("noop");
    expect(homeserver.writes).toHaveLength(writes);
    expect(runs.runs).toHaveLength(1);
  });
});
