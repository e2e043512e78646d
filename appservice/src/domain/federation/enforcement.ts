import type { AuditRecorder } from "../audit/audit-trail.js";
import type { Clock } from "../clock.js";
import { serverNameOf } from "../matrix-event.js";
import { type AclPassOutcome, type RoomAclAccess, runAclPass, type ServerAcl, sameAcl } from "./acl-pass.js";
import type { ConcurrencyLimitOptions } from "./adaptive-concurrency.js";
import { ConcurrencyLimit, forEachAdaptively } from "./adaptive-concurrency.js";
import type { AgreementRecord } from "./agreement.js";
import type { AgreementChangeListener } from "./ports.js";
import type { SignedMessage } from "./signed-message.js";

export type { RoomAclAccess, ServerAcl } from "./acl-pass.js";

export interface RoomMemberRemover {
  /** Joined and invited members. */
  members(roomId: string): Promise<string[]>;
  kick(roomId: string, userId: string, reason: string): Promise<void>;
}

export interface SpaceChildren {
  children(spaceId: string): Promise<string[]>;
}

export interface ManagedRoomList {
  /** Rooms on this trust's server the bot has joined. */
  managedRoomIds(): Promise<string[]>;
}

export interface AgreementLister {
  list(): Promise<AgreementRecord[]>;
}

/** Server ACLs match host names without the port (Matrix spec, m.room.server_acl). */
export function aclHost(serverName: string): string {
  const match = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(serverName);
  return match?.[1] ?? serverName;
}

export interface AclSyncStatus {
  managedRooms: number;
  inSync: number;
  failed: { roomId: string; error: string }[];
  lastCheckAt: Date | null;
  /** Rooms written in the last pass and the most calls it had in flight (for logs and the bench). */
  lastPass?: Pick<AclPassOutcome, "written" | "peakConcurrency" | "sweepMs">;
}

export interface EnforcementDeps {
  ownServerName: string;
  agreements: AgreementLister;
  rooms: ManagedRoomList;
  acl: RoomAclAccess;
  members: RoomMemberRemover;
  spaces: SpaceChildren;
  audit: AuditRecorder;
  clock: Clock;
  /** Homeserver calls in flight, adapted to its answer times (adaptive-concurrency.ts). */
  concurrency: ConcurrencyLimitOptions;
  /** Pauses before the rooms that failed in a pass are tried again (one retry per entry). */
  retryDelaysMs: readonly number[];
  sleep(ms: number): Promise<void>;
  /** Whether to write m.room.server_acl at all (the module and the whitelist still apply). */
  roomAcls: boolean;
}

/**
 * Keeps every managed room's server ACL equal to "this trust plus the partners whose active
 * agreement covers the room", and on revocation or suspension removes the partner's users
 * from managed rooms (the ACL alone stops their server from taking part, but leaves them listed).
 */
export class FederationEnforcement implements AgreementChangeListener {
  private status: AclSyncStatus = { managedRooms: 0, inSync: 0, failed: [], lastCheckAt: null };
  private running: Promise<AclSyncStatus> | null = null;
  private again = false;

  constructor(private readonly deps: EnforcementDeps) {}

  get lastStatus(): AclSyncStatus {
    return this.status;
  }

  /** Server names with an active agreement: what the Synapse module allows. */
  async allowedServers(): Promise<string[]> {
    const agreements = await this.deps.agreements.list();
    return [...new Set(agreements.filter((a) => a.status === "active").map((a) => a.peer.serverName))].sort();
  }

  /** room id -> partner server names allowed in it. */
  async plan(roomIds: readonly string[]): Promise<Map<string, string[]>> {
    const active = (await this.deps.agreements.list()).filter((a) => a.status === "active");
    const plan = new Map<string, string[]>(roomIds.map((id) => [id, []]));
    for (const agreement of active) {
      let inScope: ReadonlySet<string>;
      if (agreement.terms.scope.kind === "all") inScope = new Set(roomIds);
      else {
        const ids = new Set<string>();
        for (const space of agreement.terms.scope.spaces) {
          ids.add(space);
          for (const child of await this.deps.spaces.children(space).catch(() => [])) ids.add(child);
        }
        inScope = ids;
      }
      for (const roomId of roomIds) if (inScope.has(roomId)) plan.get(roomId)?.push(agreement.peer.serverName);
    }
    return plan;
  }

  desiredAcl(partners: readonly string[], current: ServerAcl | null): ServerAcl {
    // Federation requests are matched by host (port stripped), but Synapse's check that an ACL
    // does not lock out its own server uses the full server name: list both forms.
    const allow = [...new Set([this.deps.ownServerName, ...partners].flatMap((server) => [aclHost(server), server]))].sort();
    return { allow, deny: current?.deny ?? [], allow_ip_literals: false };
  }

  /** Brings every managed room's ACL in line; a second call while one runs is folded into one more pass. */
  sync(): Promise<AclSyncStatus> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        let status: AclSyncStatus;
        do {
          this.again = false;
          status = await this.syncOnce();
        } while (this.again);
        return status;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async syncOnce(): Promise<AclSyncStatus> {
    const { deps } = this;
    const roomIds = await deps.rooms.managedRoomIds();
    let outcome: AclPassOutcome = { confirmed: 0, written: 0, failed: [], peakConcurrency: 0, sweepMs: { read: 0, write: 0, readBack: 0 } };
    if (deps.roomAcls) {
      const plan = await this.plan(roomIds);
      outcome = await runAclPass(deps, roomIds, (roomId, current) => this.desiredAcl(plan.get(roomId) ?? [], current));
    }
    this.status = {
      managedRooms: roomIds.length,
      inSync: outcome.confirmed,
      failed: outcome.failed,
      lastCheckAt: deps.clock.now(),
      lastPass: { written: outcome.written, peakConcurrency: outcome.peakConcurrency, sweepMs: outcome.sweepMs },
    };
    return this.status;
  }

  /** Brings the named rooms' ACLs in line (e.g. a room the bot just joined). */
  async syncRooms(roomIds: readonly string[]): Promise<void> {
    if (!this.deps.roomAcls) return;
    const plan = await this.plan(roomIds);
    for (const roomId of roomIds) await this.syncRoom(roomId, plan.get(roomId) ?? []);
  }

  /** Writes the room's ACL if it differs, then reads it back to confirm. */
  async syncRoom(roomId: string, partners: readonly string[]): Promise<"unchanged" | "updated"> {
    const current = await this.deps.acl.readAcl(roomId);
    const desired = this.desiredAcl(partners, current);
    if (sameAcl(current, desired)) return "unchanged";
    await this.deps.acl.writeAcl(roomId, desired);
    const confirmed = await this.deps.acl.readAcl(roomId);
    if (!sameAcl(confirmed, desired)) throw new Error("the server ACL read back differs from the one written");
    return "updated";
  }

  async agreementsChanged(change: { agreement: AgreementRecord; previousStatus: AgreementRecord["status"] | null; message: SignedMessage }): Promise<void> {
    // sync() folds a call made during a pass into one more pass, so this status is of a pass
    // that started after the change: the audit says the rooms are shut only once read back so.
    const status = await this.sync();
    if (this.deps.roomAcls) {
      await this.deps.audit.record({
        actor: "handover:federation",
        action: status.failed.length === 0 ? "federation.acls.confirmed" : "federation.acls.incomplete",
        target: change.agreement.id,
        details: {
          peer: change.agreement.peer.serverName,
          agreementStatus: change.agreement.status,
          messageId: change.message.id,
          managedRooms: status.managedRooms,
          confirmed: status.inSync,
          failed: status.failed.slice(0, 50),
        },
      });
    }
    const lostAccess = change.previousStatus === "active" && change.agreement.status !== "active";
    if (lostAccess) await this.removeMembersOf(change.agreement, change.message);
  }

  /** Kicks the partner's users (joined or invited) from every managed room, as the bot. */
  async removeMembersOf(agreement: AgreementRecord, message: SignedMessage): Promise<number> {
    const { deps } = this;
    const server = agreement.peer.serverName;
    const roomIds = await deps.rooms.managedRoomIds();
    let removed = 0;
    await forEachAdaptively(
      roomIds,
      new ConcurrencyLimit(deps.concurrency),
      async (roomId) => {
        const members = (await deps.members.members(roomId).catch(() => [] as string[])).filter((userId) => serverNameOf(userId) === server);
        const kicked: string[] = [];
        for (const userId of members) {
          try {
            await deps.members.kick(roomId, userId, `Federation agreement with ${agreement.peer.name} ${agreement.status}`);
            kicked.push(userId);
          } catch {
            // Left already, or the room refuses: the ACL still shuts the server out; the next revocation pass retries.
          }
        }
        if (kicked.length > 0) {
          removed += kicked.length;
          await deps.audit.record({
            actor: "handover:federation",
            action: "federation.members.removed",
            target: roomId,
            details: { agreementId: agreement.id, peer: server, userIds: kicked, messageId: message.id },
          });
        }
      },
      () => undefined,
    );
    return removed;
  }
}
