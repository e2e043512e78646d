import { createHmac } from "node:crypto";
import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { HandoverError } from "../errors.js";
import { serverNameOf } from "../matrix-event.js";
import type { RoomStore } from "../rooms/room.js";
import { describeNhsNumberProblem, type NhsNumber, parseNhsNumber } from "./nhs-number.js";

/** What a lookup came to: the record's answer, or why Handover refused to ask. */
export type PatientLookupOutcome = "found" | "not-found" | "unavailable" | "not-searched";
export type PatientLookupRefusal = "refused-not-local" | "refused-room-not-clinical" | "refused-rate-limit";
export type PatientLookupResult = PatientLookupOutcome | PatientLookupRefusal | "pending";

/** One lookup, as kept for the rate limit and for "who looked up this patient?". */
export interface PatientLookupEntry {
  actor: string;
  roomId: string;
  threadRootId: string | null;
  /** HMAC-SHA-256 of the ten digits under `records.patientLookup.auditKey`, hex: never the number. */
  nhsNumberHash: string;
  outcome: PatientLookupResult;
  via: "command" | "portal";
  at: Date;
}

export interface PatientLookupLog {
  /**
   * Adds the entry unless its actor already made `max` lookups (refusals not counted) since
   * `since`; atomic per actor, so two lookups at once cannot both take the last one. Answers
   * the entry's id, or null when over the limit.
   */
  addWithinLimit(entry: PatientLookupEntry, since: Date, max: number): Promise<string | null>;
  /** Adds an entry that does not count towards the limit (a refusal). */
  add(entry: PatientLookupEntry): Promise<void>;
  settle(id: string, outcome: PatientLookupOutcome): Promise<void>;
  /** Every lookup of the number with this hash, newest first. */
  byHash(nhsNumberHash: string, limit: number): Promise<PatientLookupEntry[]>;
}

/** The keyed hash that stands for an NHS number in the audit trail and the lookup log. */
export function keyedNhsNumberHash(key: string): (nhsNumber: NhsNumber) => string {
  return (nhsNumber) => createHmac("sha256", key).update(nhsNumber, "utf8").digest("hex");
}

export interface PatientLookupGateDeps {
  /** The trust's own Matrix server name: only its users may look patients up. */
  localServer: string;
  rooms: Pick<RoomStore, "get">;
  log: PatientLookupLog;
  audit: AuditRecorder;
  clock: Clock;
  hashNhsNumber(nhsNumber: NhsNumber): string;
  limit: { maxLookups: number; windowMs: number };
}

export interface LookupRequest {
  actor: string;
  roomId: string;
  threadRootId: string | null;
  nhsNumber: NhsNumber;
  via: "command" | "portal";
}

/** An admitted lookup, to be settled with what the record answered. */
export interface AdmittedLookup {
  id: string;
  request: LookupRequest;
  nhsNumberHash: string;
}

/**
 * A lookup shows a patient's name and date of birth from the trust's record, so it is the
 * trust's own staff's to make, in rooms classified clinical, at a human rate, and each one is
 * audited with a keyed hash of the number: an IG lead can later answer "who looked up this
 * patient?" by hashing the number with the same key, while the trail itself names no one.
 */
export class PatientLookupGate {
  constructor(private readonly deps: PatientLookupGateDeps) {}

  hash(nhsNumber: NhsNumber): string {
    return this.deps.hashNhsNumber(nhsNumber);
  }

  /** Admits the lookup or throws a FORBIDDEN HandoverError saying why; both are audited. */
  async admit(request: LookupRequest): Promise<AdmittedLookup> {
    const nhsNumberHash = this.hash(request.nhsNumber);
    const now = this.deps.clock.now();
    const entry = this.entryFor(request, nhsNumberHash, now);
    await this.refuseUnlessLocalInClinicalRoom(request, entry);
    const { maxLookups, windowMs } = this.deps.limit;
    const id = await this.deps.log.addWithinLimit(entry("pending"), new Date(now.getTime() - windowMs), maxLookups);
    if (id === null) {
      await this.refuse(entry("refused-rate-limit"));
      throw new HandoverError(
        "FORBIDDEN",
        `You have looked up ${maxLookups} patients in the last ${Math.round(windowMs / 60_000)} minutes, the most allowed; try again later or ask your IG lead.`,
      );
    }
    return { id, request, nhsNumberHash };
  }

  /**
   * Showing a conversation's linked patient (the bot's answer to `!handover patient` or
   * `!handover file`) discloses what the lookup did: the same people, in the same rooms. A
   * refusal is logged and audited like a refused lookup; a shown link is not a new lookup.
   */
  async admitViewer(request: LookupRequest): Promise<void> {
    await this.refuseUnlessLocalInClinicalRoom(request, this.entryFor(request, this.hash(request.nhsNumber), this.deps.clock.now()));
  }

  private entryFor(request: LookupRequest, nhsNumberHash: string, now: Date): (outcome: PatientLookupResult) => PatientLookupEntry {
    return (outcome) => ({
      actor: request.actor,
      roomId: request.roomId,
      threadRootId: request.threadRootId,
      nhsNumberHash,
      outcome,
      via: request.via,
      at: now,
    });
  }

  private async refuseUnlessLocalInClinicalRoom(request: LookupRequest, entry: (outcome: PatientLookupResult) => PatientLookupEntry): Promise<void> {
    const actorServer = serverNameOf(request.actor);
    if (actorServer !== this.deps.localServer) {
      await this.refuse(entry("refused-not-local"));
      throw new HandoverError(
        "FORBIDDEN",
        `Only this trust's own staff (users on ${this.deps.localServer}) can look a patient up; ${request.actor} is on ${actorServer || "another server"}.`,
      );
    }
    const room = await this.deps.rooms.get(request.roomId);
    if (room?.kind !== "clinical") {
      await this.refuse(entry("refused-room-not-clinical"));
      const kind = room?.kind ? `classified ${room.kind}` : "not classified";
      throw new HandoverError(
        "FORBIDDEN",
        `Patients can be looked up only in clinical rooms; this room is ${kind}. A room moderator can classify it: !handover classify clinical.`,
      );
    }
  }

  async settle(lookup: AdmittedLookup, outcome: PatientLookupOutcome): Promise<void> {
    await this.deps.log.settle(lookup.id, outcome);
    await this.audit(lookup.request, lookup.nhsNumberHash, outcome);
  }

  /** Who looked up the patient with this NHS number (hashed with the same key), newest first. */
  async lookupsOf(nhsNumber: NhsNumber, limit: number): Promise<PatientLookupEntry[]> {
    return this.deps.log.byHash(this.hash(nhsNumber), limit);
  }

  /** An IG lead's question "who looked up this patient?", itself audited (by hash). */
  async whoLookedUp(nhsNumberText: string, askedBy: string, limit: number): Promise<{ nhsNumberHash: string; lookups: PatientLookupEntry[] }> {
    const parsed = parseNhsNumber(nhsNumberText);
    if (!parsed.ok) {
      const message = describeNhsNumberProblem(parsed.problem);
      throw new HandoverError("VALIDATION_FAILED", message, [{ path: "nhsNumber", message }]);
    }
    const nhsNumberHash = this.hash(parsed.value);
    const lookups = await this.deps.log.byHash(nhsNumberHash, limit);
    await this.deps.audit.record({
      actor: askedBy,
      action: "records.patient_lookups_searched",
      target: "records",
      details: { nhsNumberHash, found: lookups.length },
    });
    return { nhsNumberHash, lookups };
  }

  private async refuse(entry: PatientLookupEntry): Promise<void> {
    await this.deps.log.add(entry);
    await this.audit(entry, entry.nhsNumberHash, entry.outcome);
  }

  private async audit(request: Omit<LookupRequest, "nhsNumber">, nhsNumberHash: string, outcome: PatientLookupResult): Promise<void> {
    await this.deps.audit.record({
      actor: request.actor,
      action: "records.patient_lookup",
      target: request.roomId,
      details: { threadRootId: request.threadRootId, via: request.via, outcome, nhsNumberHash },
    });
  }
}
