import type { RequestHandler } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { HandoverConfig } from "./config/schema.js";
import type { DirectoryGroupMemberships } from "./domain/access/group-roles.js";
import type { AuditTrail } from "./domain/audit/audit-trail.js";
import type { Clock } from "./domain/clock.js";
import type { DirectoryGroupMembers } from "./domain/devices/model.js";
import type { RoomEventDecryptor } from "./domain/e2ee/crypto-state.js";
import type { FilingLedger } from "./domain/filing/filed-range.js";
import type { MatrixEvent } from "./domain/matrix-event.js";
import type { RoomStore } from "./domain/rooms/room.js";
import type { HandoverMetrics } from "./http/metrics.js";
import type { RouteHandlers } from "./http/web-server.js";
import type { BotClient } from "./matrix/bot-client.js";
import type { JobScheduler } from "./storage/job-scheduler.js";
import type { SynapseAdminClient } from "./synapse/admin-client.js";

/**
 * A product capability (retention, directory sync, EHR filing, federation) plugged into the
 * core. Its factory takes what it needs from the Platform and builds its own domain services
 * with narrow dependencies; the core only routes events and requests to it and runs its
 * lifecycle. Factories do no I/O: start() does.
 */
export interface Capability {
  readonly name: string;
  /**
   * `!handover <verb>` commands this capability answers itself (from onEvent), verb -> one help
   * line. The core's command handler then leaves them alone and lists them in its help.
   */
  commands?: Readonly<Record<string, string>>;
  /** Every homeserver event, in order, after the core's room bookkeeping has seen it. */
  onEvent?(event: MatrixEvent): Promise<void>;
  /**
   * Writes what onEvent buffered (e.g. retention's message index). The event pump awaits it
   * before handled events leave the inbox, so a crash in between re-handles them rather than
   * losing what was buffered.
   */
  flushHandled?(): Promise<void>;
  /** Handlers for this capability's routes in the API contract. */
  handlers?: Partial<RouteHandlers>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Extra readiness checks shown at /readyz. */
  readiness?(): Promise<Record<string, boolean>>;
  /**
   * Routes outside the admin API contract, mounted at the web listener's root before the portal
   * (e.g. /.well-known/... documents and peer-to-peer endpoints). They handle their own auth.
   */
  webRoutes?: RequestHandler;
  /** Directory sync's answer to who is in which group now, for portal roles from groups. */
  groupMemberships?: DirectoryGroupMemberships & DirectoryGroupMembers;
  /** Routes on the appservice listener for Synapse-side callers (e.g. a Synapse module), behind the homeserver token. */
  homeserverRoutes?: RequestHandler;
}

/** What the core offers capabilities. */
export interface Platform {
  config: HandoverConfig;
  db: DataSource;
  logger: Logger;
  clock: Clock;
  metrics: HandoverMetrics;
  audit: AuditTrail;
  rooms: RoomStore;
  bot: BotClient;
  admin: SynapseAdminClient;
  botUserId: string;
  /** Filed ranges: written by EHR filing, read by retention. */
  filings: FilingLedger;
  /** Periodic jobs that run in one Handover process at a time (a PostgreSQL advisory lock). */
  jobs: JobScheduler;
  /** Decrypts end-to-end encrypted room events with the bot's device; null when `e2ee` is not configured. */
  decryptor: RoomEventDecryptor | null;
  /** Directory sync's groups (null when no directory is synced); asked late, as capabilities are built in turn. */
  directoryGroups(): DirectoryGroupMembers | null;
}

export type CapabilityFactory = (platform: Platform) => Capability;
