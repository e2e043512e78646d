/**
 * The directory bench's measured process (run by bench/suites/directory.ts in a child so its
 * peak RSS is its own): a generated directory, a converged homeserver, 1% churn, one plan.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { desiredState } from "../../appservice/src/domain/directory/desired.js";
import { IdentityTemplate } from "../../appservice/src/domain/directory/identity.js";
import type { DirectoryGroup, DirectoryPerson, DirectorySnapshot, SyncRule } from "../../appservice/src/domain/directory/model.js";
import {
  type ActualRoom,
  type KnownLeaver,
  type MembershipAction,
  newLeavers,
  type PlanOptions,
  planMembership,
} from "../../appservice/src/domain/directory/planner.js";
import { oneRoomPerGroup } from "./directory-rules.js";

const PEOPLE = 50_000;
const GROUPS = 2_000;
const PARENTS = 200; // groups made of 9 leaf groups each: nesting
const LEAVES = GROUPS - PARENTS;
const CHURN = 0.01;
const SERVER = "bench.test";
const BOT = `@handover:${SERVER}`;

function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function generate(): { snapshot: DirectorySnapshot; rules: SyncRule[] } {
  const random = seeded(42);
  const groups: DirectoryGroup[] = [];
  for (let g = 0; g < LEAVES; g++) groups.push({ id: `g${g}`, name: `Leaf-${g}`, subgroupIds: [] });
  for (let p = 0; p < PARENTS; p++) {
    groups.push({ id: `p${p}`, name: `Parent-${p}`, subgroupIds: Array.from({ length: 9 }, (_, i) => `g${(p * 9 + i) % LEAVES}`) });
  }
  const people: DirectoryPerson[] = [];
  for (let i = 0; i < PEOPLE; i++) {
    const groupIds = [`g${i % LEAVES}`];
    if (random() < 0.2) groupIds.push(`g${Math.floor(random() * LEAVES)}`);
    people.push({
      id: `uid=u${i}`,
      username: `u${i}`,
      mail: null,
      attributes: { title: random() < 0.05 ? "Consultant" : "Nurse" },
      disabled: false,
      groupIds,
    });
  }
  const rules: SyncRule[] = oneRoomPerGroup(groups, SERVER);
  return { snapshot: { source: "ad", people, groups }, rules };
}

/** 1% of people change: a third move team, a third leave (disabled), a third are new joiners; a few change title. */
function churn(snapshot: DirectorySnapshot): DirectorySnapshot {
  const random = seeded(7);
  const changed = Math.round(PEOPLE * CHURN);
  const people = snapshot.people.map((person) => ({ ...person, groupIds: [...person.groupIds], attributes: { ...person.attributes } }));
  for (let n = 0; n < changed; n++) {
    const index = Math.floor(random() * PEOPLE);
    const person = people[index] as DirectoryPerson;
    const kind = n % 3;
    if (kind === 0) person.groupIds = [`g${Math.floor(random() * LEAVES)}`];
    else if (kind === 1) person.disabled = true;
    else
      people.push({
        id: `uid=new${n}`,
        username: `new${n}`,
        mail: null,
        attributes: { title: "Nurse" },
        disabled: false,
        groupIds: [`g${Math.floor(random() * LEAVES)}`],
      });
    if (n % 10 === 0) person.attributes.title = person.attributes.title === "Consultant" ? "Nurse" : "Consultant";
  }
  return { ...snapshot, people };
}

/** The homeserver after the previous run converged: exactly the desired state, bot as admin. */
function converged(desired: ReturnType<typeof desiredState>): Map<string, ActualRoom> {
  const rooms = new Map<string, ActualRoom>();
  for (const [roomId, members] of desired.rooms) {
    const room: ActualRoom = { roomId, members: new Map([[BOT, "join"]]), users: { [BOT]: 100 }, usersDefault: 0, botCanManage: true };
    for (const [userId, member] of members) {
      room.members.set(userId, "join");
      if (member.level !== 0) room.users[userId] = member.level;
    }
    rooms.set(roomId, room);
  }
  return rooms;
}

/** Applies writes to the in-memory homeserver, one per action, as Synapse would. */
function apply(actual: Map<string, ActualRoom>, actions: readonly MembershipAction[], leavers: Map<string, KnownLeaver>): number {
  let writes = 0;
  for (const action of actions) {
    writes++;
    if (action.kind === "invite" || action.kind === "force-join")
      actual.get(action.roomId)?.members.set(action.userId, action.kind === "invite" ? "invite" : "join");
    else if (action.kind === "kick") actual.get(action.roomId)?.members.set(action.userId, "leave");
    else if (action.kind === "set-power") {
      const room = actual.get(action.roomId) as ActualRoom;
      for (const change of action.changes) room.users[change.userId] = change.to;
    } else if (action.kind === "end-sessions") {
      const leaver = leavers.get(action.userId);
      if (leaver) leaver.sessionsEnded = true;
    }
  }
  return writes;
}

/** Needed changes counted independently of the planner: set differences per room. */
function neededChanges(desired: ReturnType<typeof desiredState>, actual: Map<string, ActualRoom>, leavers: number): number {
  let changes = leavers;
  for (const [roomId, members] of desired.rooms) {
    const room = actual.get(roomId) as ActualRoom;
    const present = new Set([...room.members].filter(([userId, m]) => userId !== BOT && (m === "join" || m === "invite")).map(([userId]) => userId));
    const wanted = new Set(members.keys());
    for (const userId of wanted) if (!present.has(userId)) changes++;
    for (const userId of present) if (!wanted.has(userId)) changes++;
    let powerDiffers = false;
    for (const [userId, member] of members) if ((room.users[userId] ?? 0) !== member.level) powerDiffers = true;
    if (powerDiffers) changes++;
  }
  return changes;
}

function peakRssMb(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

const identity = new IdentityTemplate("{username}", SERVER);
const { snapshot, rules } = generate();
const before = desiredState([snapshot], rules, identity);
const actual = converged(before);
const previouslyActive = [...before.people.keys()];
const after = churn(snapshot);
const options: Omit<PlanOptions, "now"> = {
  serverName: SERVER,
  botUserId: BOT,
  exempt: new Set(),
  leaverPolicy: { action: "lock", graceMs: 7 * 86_400_000, endSessions: true },
};
const now = new Date();

// Measured: what a run computes between reading the directory and the homeserver and writing.
const started = performance.now();
const desired = desiredState([after], rules, identity);
const leavers = new Map(newLeavers(desired, previouslyActive).map((userId) => [userId, { userId, leftAt: now, sessionsEnded: false, accountClosed: false }]));
const plan = planMembership(desired, actual, [...leavers.values()], { ...options, now });
const planMs = performance.now() - started;

const changes = neededChanges(desired, actual, leavers.size);
let memberships = 0;
for (const members of desired.rooms.values()) memberships += members.size;

// The naive alternative: re-send every desired membership and every room's power levels each run.
const naiveStarted = performance.now();
let naiveWrites = 0;
for (const [, members] of desired.rooms) naiveWrites += members.size + 1;
naiveWrites += plan.removals + leavers.size;
const naivePlanMs = performance.now() - naiveStarted;

const writes = apply(actual, plan.actions, leavers);
const second = planMembership(desired, actual, [...leavers.values()], { ...options, now });

process.stdout.write(
  `${JSON.stringify({
    planMs,
    rssMb: peakRssMb(),
    changes,
    writes,
    noopWrites: second.actions.length,
    naiveWrites,
    naivePlanMs,
    people: after.people.length,
    groups: after.groups.length,
    rooms: desired.rooms.size,
    memberships,
    removals: plan.removals,
  })}\n`,
);
