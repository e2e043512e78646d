import { describe, expect, it } from "vitest";
import { FakeClock, GatedAudit } from "../../testing/fakes.js";
import { HandoverError } from "../errors.js";
import { ActionExecutor } from "./executor.js";
import { IdentityTemplate } from "./identity.js";
import { DirectoryAnswerRefused, type DirectorySnapshot, type DirectorySource, type SyncRule } from "./model.js";
import type { ActualRoom, KnownLeaver, MembershipAction } from "./planner.js";
import type { AccountControl, IdentityStore, MembershipReader, MembershipWriter, RuleStore, RunAction, RunStatus, RunStore, SyncRun } from "./ports.js";
import { DirectorySync, type RunResult } from "./reconciler.js";
import { MAX_OPEN_BOOKS } from "./run-bookkeeping.js";

const SERVER = "trust.test";
const BOT = "@handover:trust.test";
const ROOM = "!ward:trust.test";

class FakeSource implements DirectorySource {
  readonly kind = "ldap";
  readonly name = "ad";
  members = ["amy", "ben", "cat"];
  /** People in the directory but in no group, so in no managed room. */
  others: string[] = [];
  disabled = new Set<string>();
  failure: Error | null = null;
  async snapshot(): Promise<DirectorySnapshot> {
    if (this.failure) throw this.failure;
    const person = (name: string, groupIds: string[]) => ({
      id: name,
      username: name,
      mail: null,
      attributes: {},
      disabled: this.disabled.has(name),
      groupIds,
    });
    return {
      source: "ad",
      people: [...this.members.map((name) => person(name, ["g"])), ...this.others.map((name) => person(name, []))],
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
  async setStatus(id: number, status: RunStatus, fields: { decidedBy?: string; reason?: string } = {}) {
    const run = this.runs.find((candidate) => candidate.id === id) as SyncRun;
    run.status = status;
    if (fields.decidedBy) run.decidedBy = fields.decidedBy;
    if (fields.reason) run.reason = fields.reason;
  }
  async setOutcome(id: number, index: number, outcome: "done" | "failed", error: string | null) {
    const item = this.stored.get(id)?.[index];
    if (item) Object.assign(item, { outcome, error });
  }
  async interruptApplying() {
    return [];
  }
  async removedSince(since: Date) {
    let memberships = 0;
    const accounts = new Set<string>();
    for (const run of this.runs) {
      if (run.startedAt < since || run.decidedBy !== null) continue;
      for (const { action, outcome } of this.stored.get(run.id) ?? []) {
        if (outcome !== "done") continue;
        if (action.kind === "kick") memberships++;
        if (action.kind === "end-sessions" || action.kind === "lock" || action.kind === "deactivate") accounts.add(action.userId);
      }
    }
    return { memberships, accounts };
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

function setup(maxRemovalShare = 0.05, windowMs = 0) {
  const source = new FakeSource();
  const homeserver = new FakeHomeserver();
  const runs = new MemoryRuns();
  const identities = new MemoryIdentities();
  const audit = new GatedAudit();
  const clock = new FakeClock();
  const rule: SyncRule = { id: "ward", description: "", group: "Ward", attribute: null, rooms: [ROOM], joinMode: "force-join", power: [], enabled: true };
  const rules: RuleStore = { list: async () => [rule], get: async () => rule, save: async () => ({ created: false }), remove: async () => false };
  const executor = new ActionExecutor(homeserver, homeserver, clock, { writesPerSecond: 1000, attempts: 3, wait: async () => {} });
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
    guard: { maxRemovalShare, maxRemovals: 500, windowMs },
    plan: { serverName: SERVER, botUserId: BOT, exempt: new Set(), leaverPolicy: { action: "lock", graceMs: 0, endSessions: true } },
  });
  return { sync, source, homeserver, runs, identities, audit, clock };
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
    // Leavers' sessions end first (one lane per person), while their rooms' kicks follow.
    expect(homeserver.writes.slice(3)).toEqual([
      "logout @ben:trust.test",
      "lock @ben:trust.test",
      "logout @cat:trust.test",
      "lock @cat:trust.test",
      "kick @ben:trust.test",
      "kick @cat:trust.test",
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

  describe("a change's bookkeeping is off the write path, and never lost (issue 16.1)", () => {
    /** Lets every write and append that can go ahead now go ahead. */
    const turns = async () => {
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    };

    it("a lane's next write does not wait for the audit entry of the change before it, and the run ends only once every entry is written", async () => {
      const { sync, homeserver, runs, audit } = setup();
      audit.hold();
      let result: RunResult | undefined;
      const running = sync.run({ trigger: "scim" }).then((answer) => {
        result = answer;
        return answer;
      });
      await turns();
      // One room, so one lane: each join went ahead while the entries before it were held.
      expect(homeserver.writes).toEqual(["join @amy:trust.test", "join @ben:trust.test", "join @cat:trust.test"]);
      expect(result).toBeUndefined();
      expect(runs.runs[0]?.status).toBe("applying");

      audit.release();
      expect(await running).toMatchObject({ status: "applied", summary: { applied: 3, failed: 0 } });
      expect(audit.events.map((event) => event.target)).toEqual([`@amy:trust.test in ${ROOM}`, `@ben:trust.test in ${ROOM}`, `@cat:trust.test in ${ROOM}`]);
      expect((await runs.actions(1)).map((item) => item.outcome)).toEqual(["done", "done", "done"]);
    });

    it("a kick the homeserver made whose audit entry could not be written stays done, counted by the guard, and ends the run partial, naming the change and the error", async () => {
      const { sync, source, homeserver, runs, audit } = setup(0.5);
      await sync.run({ trigger: "schedule" });
      // Still in the directory, in no group: a kick, nothing else.
      source.members = ["amy", "ben"];
      source.others = ["cat"];
      audit.refuse = (event) => (event.action === "directory.member.remove" ? new Error("audit store unavailable") : null);

      const result = await sync.run({ trigger: "scim" });
      expect(homeserver.members.get("@cat:trust.test")).toBe("leave");
      const why = new RegExp(`kick @cat:trust.test in ${ROOM}.*audit store unavailable`);
      expect(result).toMatchObject({ status: "partial", reason: expect.stringMatching(why), summary: { applied: 1, failed: 0 } });
      expect(runs.runs[1]).toMatchObject({ status: "partial", reason: expect.stringMatching(why) });
      expect(await runs.actions(2)).toEqual([
        expect.objectContaining({ outcome: "done", error: expect.stringMatching(/audit entry.*audit store unavailable/) }),
      ]);
      expect((await runs.removedSince(new Date(0))).memberships).toBe(1);
      // The trail itself names its gap.
      expect(audit.events.at(-1)).toEqual({
        actor: "handover:directory",
        action: "directory.run.unaudited",
        target: "run 2",
        details: { run: 2, missing: [{ action: "directory.member.remove", target: `@cat:trust.test in ${ROOM}`, error: "audit store unavailable" }] },
      });
    });
    it("a removal the homeserver made counts in the guard's window at once, not once the audit trail has caught up: a process that dies behind its trail (lease lost) leaves no removal uncounted", async () => {
      const { sync, source, homeserver, runs, audit } = setup(0.5);
      source.others = ["dan"];
      await sync.run({ trigger: "schedule" });
      // cat: in the directory, in no group (a kick); dan: gone from it (log-out, lock).
      source.members = ["amy", "ben"];
      source.others = ["cat"];
      audit.hold();
      const running = sync.run({ trigger: "scim" });
      await turns();
      expect(homeserver.writes.slice(3)).toEqual(["logout @dan:trust.test", "lock @dan:trust.test", "kick @cat:trust.test"]);
      // The trail is stuck: had the process died now, this is what the next run's guard would count.
      expect(await runs.removedSince(new Date(0))).toEqual({ memberships: 1, accounts: new Set(["@dan:trust.test"]) });

      audit.release();
      expect(await running).toMatchObject({ status: "applied", reason: null });
      expect((await runs.actions(2)).map((item) => [item.outcome, item.error])).toEqual([
        ["done", null],
        ["done", null],
        ["done", null],
      ]);
    });

    it("a stuck audit trail stops a run a bounded number of changes ahead of it, not after the whole plan: a restart then leaves few made unaudited, and memory stays flat", async () => {
      const { sync, source, homeserver, runs, audit } = setup();
      source.members = Array.from({ length: 400 }, (_, i) => `nurse${i}`);
      audit.hold();
      const running = sync.run({ trigger: "scim" });
      await turns();
      expect(homeserver.writes).toHaveLength(MAX_OPEN_BOOKS);
      expect(runs.runs[0]?.status).toBe("applying");

      audit.release();
      expect(await running).toMatchObject({ status: "applied", summary: { applied: 400, failed: 0 } });
      expect(audit.events).toHaveLength(400);
    });
  });

  describe("the mass-removal guard sees every removal (issue 11.6)", () => {
    const DAY = 86_400_000;
    const others = ["dan", "eve", "fay", "gus", "hal", "ivy", "jon"];
    const logouts = (writes: string[]) => writes.filter((write) => /^(logout|lock|deactivate) /.test(write));

    it("holds people going inactive (log-outs and locks) even when no membership is removed", async () => {
      const { sync, source, homeserver } = setup(0.3);
      source.others = others;
      await sync.run({ trigger: "schedule" });
      for (const name of others.slice(0, 4)) source.disabled.add(name);
      const held = await sync.run({ trigger: "schedule" });
      expect(held).toMatchObject({ status: "held", reason: expect.stringMatching(/4 of 10 people \(40%\)/) });
      expect(logouts(homeserver.writes)).toEqual([]);
    });

    it("counts people going inactive against the people known before the answer, so newcomers in the same answer cannot dilute the share", async () => {
      const { sync, source, homeserver } = setup(0.3);
      source.others = others;
      await sync.run({ trigger: "schedule" });
      // A wrong answer (another site's export): four of ours gone, thirty strangers in their place.
      source.others = [...others.slice(4), ...Array.from({ length: 30 }, (_, i) => `stranger${i}`)];
      const held = await sync.run({ trigger: "schedule" });
      expect(held).toMatchObject({ status: "held", reason: expect.stringMatching(/4 of 10 people \(40%\)/) });
      expect(logouts(homeserver.writes)).toEqual([]);
    });

    it("adds up removals over the rolling window, so small runs cannot do what one run may not", async () => {
      const { sync, source, homeserver, clock } = setup(0.3, DAY);
      source.others = others;
      await sync.run({ trigger: "schedule" });
      source.disabled = new Set(["dan", "eve"]);
      expect((await sync.run({ trigger: "schedule" })).status).toBe("applied");
      clock.advance(DAY / 2);
      source.disabled = new Set(["dan", "eve", "fay", "gus"]);
      const held = await sync.run({ trigger: "schedule" });
      expect(held).toMatchObject({ status: "held", reason: expect.stringMatching(/4 of 10 people \(40%\).*24 h/) });
      expect(logouts(homeserver.writes)).toEqual(["logout @dan:trust.test", "lock @dan:trust.test", "logout @eve:trust.test", "lock @eve:trust.test"]);
      // Once the first run is out of the window, the second is small again.
      clock.advance(DAY);
      expect((await sync.run({ trigger: "schedule" })).status).toBe("applied");
      expect(logouts(homeserver.writes)).toHaveLength(8);
    });

    it("an approval applies the plan that was shown; a different plan is refused and needs a new approval", async () => {
      const { sync, source, homeserver, runs } = setup(0.3, DAY);
      source.others = others;
      await sync.run({ trigger: "schedule" });
      const before = homeserver.writes.length;
      source.members = ["amy"];
      const held = await sync.run({ trigger: "schedule" });
      expect(held).toMatchObject({ status: "held", summary: { removals: 2 } });
      // After the admin looked, one more person goes: no more kicks, but a different plan.
      source.disabled.add("dan");
      await expect(sync.approve(held.runId as number, "@alice:trust.test")).rejects.toThrow(/changed since run 2 was held/);
      expect(homeserver.writes).toHaveLength(before);
      expect(runs.runs[1]?.status).toBe("held");

      const again = await sync.run({ trigger: "schedule" });
      expect(again.runId).not.toBe(held.runId);
      expect(runs.runs[1]?.status).toBe("superseded");
      expect((await sync.approve(again.runId as number, "@alice:trust.test")).status).toBe("applied");
      expect(logouts(homeserver.writes)).toHaveLength(6);
      // Approved removals are not counted in the window: a small run after it goes through.
      source.disabled.add("eve");
      expect((await sync.run({ trigger: "schedule" })).status).toBe("applied");
    });
  });
});
