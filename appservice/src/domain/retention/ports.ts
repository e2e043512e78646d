import type { MatrixEvent } from "../matrix-event.js";
import type { MediaReference } from "./media.js";
import type { LegalHold, RoomRetentionFacts, WarningDue } from "./planner.js";
import type { RetentionPolicy } from "./policy.js";

/**
 * What retention needs from the world, as narrow interfaces: storage adapters in storage/,
 * Synapse and Matrix adapters in synapse/ and matrix/ implement them.
 */

export interface PolicyStore {
  list(): Promise<RetentionPolicy[]>;
  get(id: string): Promise<RetentionPolicy | null>;
  /** Fails with CONFLICT when another policy has the same scope. */
  save(policy: RetentionPolicy, actor: string): Promise<RetentionPolicy>;
  remove(id: string): Promise<boolean>;
}

export interface HoldStore {
  get(roomId: string): Promise<LegalHold | null>;
  list(): Promise<LegalHold[]>;
  put(hold: LegalHold): Promise<void>;
  lift(roomId: string): Promise<LegalHold | null>;
}

export interface RetentionFactsSource {
  /** Facts of every room the bot has joined (or only those given). */
  roomFacts(now: Date, roomIds?: readonly string[]): Promise<RoomRetentionFacts[]>;
  /** How many indexed message events each room has up to its cutoff. */
  countUpTo(cutoffs: readonly { roomId: string; cutoff: Date }[]): Promise<Map<string, number>>;
  /** Indexed events of a room sent after `after` (exclusive, null = from the start) up to `upTo`. */
  countBetween(roomId: string, after: Date | null, upTo: Date): Promise<number>;
}

export interface RetentionEventIndex {
  /** Adds messages to the index (those it has are left as they are), written before this returns. */
  recordMessages(rows: readonly { roomId: string; eventId: string; ts: Date }[]): Promise<void>;
  forgetUpTo(roomId: string, cutoff: Date): Promise<void>;
  /** Forgets these events only (a purge stopped part-way deleted some of those up to its cutoff). */
  forgetEvents(roomId: string, eventIds: readonly string[]): Promise<void>;
  linkSpace(roomId: string, spaceId: string, linked: boolean): Promise<void>;
}

export interface WarningLedger {
  /** False when this room already has a warning for that due date. */
  record(roomId: string, warning: WarningDue, unfiledCount: number, warnedAt: Date): Promise<boolean>;
  exists(roomId: string, dueAt: Date): Promise<boolean>;
}

/** `stopped`: a legal hold or a policy change, seen at the moment of deletion, called it off. */
export type PurgeState = "planned" | "enumerated" | "noticed" | "purging" | "purged" | "complete" | "failed" | "stopped";

/** A purge from intent to evidence: the row is written before Synapse is called. */
export interface PurgeRecord {
  id: string;
  roomId: string;
  policyId: string;
  policyName: string;
  cutoff: Date;
  reason: string;
  /** `handover:retention` for the scheduler, or the person who ran it. */
  actor: string;
  filingRef: string | null;
  filedUpTo: Date | null;
  /** Clinical content never filed is part of this deletion (the policy allowed it, after a warning). */
  includesUnfiled: boolean;
  state: PurgeState;
  fromTs: Date | null;
  eventCount: number | null;
  unfiledCount: number;
  /** The message events planned (and announced) for deletion; null on records older than issue 11.4. */
  eventIds: string[] | null;
  /**
   * How many messages were planned. A purge stopped part-way (a legal hold placed between two
   * slices) keeps in `eventIds` and `eventCount` only what was really deleted; this stays.
   */
  plannedCount: number | null;
  /** Media the planned events sent as media: the candidates for deletion. */
  media: string[];
  mediaDeleted: number;
  keepFromEventId: string | null;
  noticeEventId: string | null;
  purgeId: string | null;
  /** purge_history calls made: counted before each call, so a crash cannot hide one. */
  purgeRequests: number;
  error: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

/** What a purge record holds when it is first written: the intent, before any step has run. */
export type PurgeIntent = Pick<
  PurgeRecord,
  "id" | "roomId" | "policyId" | "policyName" | "cutoff" | "reason" | "actor" | "filingRef" | "filedUpTo" | "includesUnfiled" | "createdAt"
>;

export function plannedPurge(intent: PurgeIntent): PurgeRecord {
  return {
    ...intent,
    state: "planned",
    fromTs: null,
    eventCount: null,
    unfiledCount: 0,
    eventIds: null,
    plannedCount: null,
    media: [],
    mediaDeleted: 0,
    keepFromEventId: null,
    noticeEventId: null,
    purgeId: null,
    purgeRequests: 0,
    error: null,
    completedAt: null,
  };
}

export interface DeletionQuery {
  roomId?: string | undefined;
  limit: number;
}

export interface PurgeLedger {
  create(record: PurgeRecord): Promise<void>;
  update(id: string, fields: Partial<Omit<PurgeRecord, "id">>): Promise<void>;
  /** Purges not yet complete, failed or stopped, oldest first. */
  open(): Promise<PurgeRecord[]>;
  completed(query: DeletionQuery): Promise<PurgeRecord[]>;
  remove(id: string): Promise<void>;
}

/** Read access to a room's history on the homeserver (the admin API: it sees every event). */
export interface RoomHistoryReader {
  /** Events of the room, newest first, until `stop` says enough. */
  eventsNewestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]>;
  /** Events of the room from its oldest (what earlier purges left), until `stop` says enough. */
  eventsOldestFirst(roomId: string, stop: (event: MatrixEvent) => boolean): Promise<MatrixEvent[]>;
}

export type PurgeStatus = "active" | "complete" | "failed" | "unknown";

export interface HistoryPurger {
  /** Purges local and remote events before the given event (which is kept); returns the purge id. */
  startPurge(roomId: string, keepFromEventId: string): Promise<string>;
  purgeStatus(purgeId: string): Promise<PurgeStatus>;
}

export interface MediaDeleter {
  /** true once the media is gone (also when it already was); false for remote media it cannot delete. */
  deleteMedia(mxcUri: string): Promise<boolean>;
}

/**
 * Which events refer to which media, recorded at intake from the readable (decrypted) event, so
 * a purge knows the media of encrypted events and whether anything Handover keeps still needs it.
 */
export interface MediaReferenceIndex {
  record(roomId: string, eventId: string, references: readonly MediaReference[]): Promise<void>;
  /** Media these events sent as media, as seen at intake. */
  sentBy(eventIds: readonly string[]): Promise<string[]>;
  /** Of these media, the ones an event outside `purged` (in any room) sent or mentions. */
  stillReferenced(uris: readonly string[], purged: readonly string[]): Promise<Set<string>>;
  forget(eventIds: readonly string[]): Promise<void>;
}

/**
 * The per-room lock that placing a legal hold also takes: a deletion step run under it and a
 * hold placed at the same time happen one after the other, in every Handover process.
 */
export interface RoomDeletionLock {
  whileLocked<T>(roomId: string, action: () => Promise<T>): Promise<T>;
}

export type GateOutcome<T> = { allowed: true; value: T } | { allowed: false; reason: string };

/** Runs a deletion step only if the hold and the effective policy, read under the room's lock, still allow the purge. */
export interface DeletionGate {
  whileAllowed<T>(record: PurgeRecord, step: () => Promise<T>): Promise<GateOutcome<T>>;
}

export interface RetentionNotifier {
  /** Posts a notice (idempotent per key) and returns its event id. */
  postNotice(roomId: string, text: string, idempotencyKey: string): Promise<string>;
}

export interface RetentionStatePublisher {
  setState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
}

export interface PublishedStateLedger {
  /** The m.room.retention content last published per room. */
  published(): Promise<Map<string, Record<string, unknown>>>;
  markPublished(roomId: string, content: Record<string, unknown>, at: Date): Promise<void>;
}

/** Which events some filing holds (filed means captured): a deletion record counts the rest as unfiled. */
export interface CapturedEvents {
  capturedAmong(roomId: string, eventIds: readonly string[]): Promise<ReadonlySet<string>>;
}
