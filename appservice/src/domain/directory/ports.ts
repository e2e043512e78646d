import type { MembershipReason } from "./desired.js";
import type { RecentRemovals } from "./guard.js";
import type { SyncRule } from "./model.js";
import type { ActualRoom, KnownLeaver, MembershipAction, MembershipPlan } from "./planner.js";

/** Reads a managed room's membership and power levels as the homeserver has them. */
export interface MembershipReader {
  /** null when the room does not exist on this homeserver. */
  readRoom(roomId: string): Promise<ActualRoom | null>;
}

/** The homeserver writes directory sync makes; each call is one write. */
export interface MembershipWriter {
  /** Makes the bot a joined room admin (Synapse's make_room_admin, then join). */
  takeRoom(roomId: string): Promise<void>;
  invite(roomId: string, userId: string, reason: string): Promise<void>;
  forceJoin(roomId: string, userId: string): Promise<void>;
  kick(roomId: string, userId: string, reason: string): Promise<void>;
  setUserLevels(roomId: string, levels: { userId: string; level: number }[]): Promise<void>;
}

export interface AccountControl {
  /** Logs every device of the user out; returns how many there were. */
  endSessions(userId: string): Promise<number>;
  lock(userId: string): Promise<void>;
  deactivate(userId: string): Promise<void>;
}

export interface RuleStore {
  list(): Promise<SyncRule[]>;
  get(id: string): Promise<SyncRule | null>;
  save(rule: SyncRule): Promise<{ created: boolean }>;
  remove(id: string): Promise<boolean>;
}

/** Who directory sync has seen active and who has left, so leavers are noticed once. */
export interface IdentityStore {
  /** User IDs last seen active. */
  active(): Promise<string[]>;
  leavers(): Promise<KnownLeaver[]>;
  markActive(userIds: readonly string[]): Promise<void>;
  markLeft(userIds: readonly string[], at: Date): Promise<void>;
  markSessionsEnded(userId: string, at: Date): Promise<void>;
  markClosed(userId: string, at: Date): Promise<void>;
}

export type RunTrigger = "schedule" | "scim" | "csv" | "manual" | "approval" | "start";
export type RunStatus = "held" | "applying" | "applied" | "partial" | "rejected" | "refused" | "interrupted" | "superseded";

export interface RunAction {
  action: MembershipAction;
  /** Filled once applied (or given up). */
  outcome: "done" | "failed" | null;
  error: string | null;
}

export interface SyncRun {
  id: number;
  trigger: RunTrigger;
  actor: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  reason: string | null;
  fingerprint: string;
  summary: RunSummary;
  decidedBy: string | null;
}

export interface RunSummary {
  people: number;
  rooms: number;
  managedMemberships: number;
  removals: number;
  additions: number;
  powerChanges: number;
  leaverSteps: number;
  unreadableRooms: string[];
  unmapped: number;
  applied: number;
  failed: number;
}

export interface RunStore {
  create(run: Omit<SyncRun, "id" | "finishedAt" | "decidedBy">, actions: readonly MembershipAction[]): Promise<number>;
  get(id: number): Promise<SyncRun | null>;
  list(limit: number): Promise<SyncRun[]>;
  actions(id: number): Promise<RunAction[]>;
  openHeld(): Promise<SyncRun | null>;
  /** What runs started since then removed that nobody approved (done actions only): the guard's window. */
  removedSince(since: Date): Promise<RecentRemovals>;
  setStatus(id: number, status: RunStatus, fields?: { reason?: string; decidedBy?: string; summary?: RunSummary; finished?: Date }): Promise<void>;
  setOutcome(id: number, index: number, outcome: "done" | "failed", error: string | null): Promise<void>;
  /** Runs left `applying` by a process that died: marked interrupted; returns their ids. */
  interruptApplying(): Promise<number[]>;
}

export type { MembershipPlan, MembershipReason };
