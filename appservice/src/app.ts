import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { CAPABILITIES } from "./capabilities.js";
import type { Capability, Platform } from "./capability.js";
import { configuredRole } from "./config/roles.js";
import type { HandoverConfig } from "./config/schema.js";
import { AccountStanding } from "./domain/access/account-standing.js";
import { PortalRoles } from "./domain/access/group-roles.js";
import { PortalSignIn } from "./domain/access/sign-in.js";
import { SignInLimiter } from "./domain/access/sign-in-limits.js";
import { SingleSignOn } from "./domain/access/single-sign-on.js";
import { AuditTrail } from "./domain/audit/audit-trail.js";
import { type Clock, systemClock } from "./domain/clock.js";
import { BotCommands } from "./domain/commands/bot-commands.js";
import { EventPump } from "./domain/intake/event-pump.js";
import { TransactionIntake } from "./domain/intake/transaction-intake.js";
import type { MatrixEvent } from "./domain/matrix-event.js";
import { RoomClassifier } from "./domain/rooms/room-classifier.js";
import { RoomEvents } from "./domain/rooms/room-events.js";
import { createBotDevice, type EncryptionDevice } from "./e2ee/setup.js";
import { apiHandlers } from "./http/api-handlers.js";
import type { Overview } from "./http/contract.js";
import { HandoverMetrics } from "./http/metrics.js";
import { SSO_CALLBACK_PATH, signInFlows, ssoRoutes } from "./http/sso-routes.js";
import { StandbyServer } from "./http/standby-server.js";
import { WebServer } from "./http/web-server.js";
import { createLogger } from "./logger.js";
import { BotClient } from "./matrix/bot-client.js";
import { HomeserverSso } from "./matrix/homeserver-sso.js";
import { IdentityProviderIcons } from "./matrix/identity-provider-icons.js";
import { PasswordAuthenticator } from "./matrix/password-authenticator.js";
import type { AppserviceTokens } from "./matrix/registration-file.js";
import { TransactionEndpoint } from "./matrix/transaction-endpoint.js";
import { ActiveLease } from "./storage/active-lease.js";
import { PostgresAuditStore } from "./storage/audit-store.js";
import { createDataSource } from "./storage/data-source.js";
import { DatabasePool } from "./storage/database-pool.js";
import { PostgresDirectoryLeavers } from "./storage/directory-leavers.js";
import { PostgresFilingLedger } from "./storage/filing-ledger-store.js";
import { PostgresInboxStore } from "./storage/inbox-store.js";
import { JobScheduler } from "./storage/job-scheduler.js";
import { PostgresRoomStore } from "./storage/room-store.js";
import { PostgresSessionStore } from "./storage/session-store.js";
import { SynapseAccountState } from "./synapse/account-state.js";
import { SynapseAdminClient } from "./synapse/admin-client.js";
import { VERSION } from "./version.js";

const HOUR_MS = 3_600_000;

export interface HandoverOptions {
  logger?: Logger;
  clock?: Clock;
  /**
   * Told when this process, once active, can no longer show it holds the active lease (another
   * process may be active now). Default: exit, so the service manager restarts it as a standby.
   */
  onLeaseLost?: (reason: Error) => void;
}

/** Where a Handover process stands among its trust's processes (docs/install.md, "Large trusts"). */
export type ProcessRole = "starting" | "standby" | "active" | "stopped";

/**
 * The composition root: builds every part from the config (no I/O in the constructor);
 * start() connects, checks migrations and opens both listeners; stop() closes them.
 */
export class Handover {
  readonly logger: Logger;
  readonly metrics = new HandoverMetrics();
  readonly db: DataSource;
  readonly botUserId: string;
  readonly audit: AuditTrail;
  readonly rooms: PostgresRoomStore;
  readonly inbox: PostgresInboxStore;
  readonly pump: EventPump;
  readonly bot: BotClient;
  readonly jobs: JobScheduler;
  readonly pool: DatabasePool;
  readonly capabilities: Capability[];
  /** The bot's end-to-end encryption device (config `e2ee`), or null. */
  readonly e2ee: EncryptionDevice | null;
  private readonly endpoint: TransactionEndpoint;
  private readonly web: WebServer;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly sessions: PostgresSessionStore;
  private readonly signIn: PortalSignIn;
  private readonly clock: Clock;
  private readonly lease: ActiveLease;
  private standby: StandbyServer | null = null;
  private readonly onLeaseLost: (reason: Error) => void;
  webPort = 0;
  role: ProcessRole = "starting";

  constructor(
    readonly config: HandoverConfig,
    tokens: AppserviceTokens,
    options: HandoverOptions = {},
  ) {
    this.logger = options.logger ?? createLogger(config.logging.level);
    this.clock = options.clock ?? systemClock;
    this.botUserId = `@${config.appservice.botLocalpart}:${config.homeserver.serverName}`;
    this.db = createDataSource(config.database.url, config.database.poolSize);
    this.pool = new DatabasePool(this.db, {
      baseSize: config.database.poolSize,
      exhaustedAfterMs: config.database.poolExhaustedAfter,
    });
    this.audit = new AuditTrail(new PostgresAuditStore(this.db));
    this.rooms = new PostgresRoomStore(this.db);
    this.inbox = new PostgresInboxStore(this.db);
    this.sessions = new PostgresSessionStore(this.db);
    const admin = new SynapseAdminClient(config.homeserver.url, config.homeserver.adminAccessToken);
    this.bot = new BotClient(config.homeserver.url, tokens.asToken, this.botUserId, admin, this.logger);
    const classifier = new RoomClassifier({
      rooms: this.rooms,
      stateWriter: this.bot,
      reporter: this.bot,
      audit: this.audit,
      clock: this.clock,
      botUserId: this.botUserId,
      roleOf: (userId) => config.access.roles[userId],
    });
    const capabilityCommands = new Map<string, string>();
    const commands = new BotCommands({
      notifier: this.bot,
      powerLevels: this.bot,
      classify: (roomId, kind, actor) => classifier.classify(roomId, kind, actor, "command"),
      room: (roomId) => this.rooms.get(roomId),
      version: VERSION,
      capabilityCommands,
    });
    const roomEvents = new RoomEvents({
      botUserId: this.botUserId,
      serverName: config.homeserver.serverName,
      rooms: this.rooms,
      classifier,
      commands,
      membership: this.bot,
      audit: this.audit,
    });
    this.jobs = new JobScheduler(this.db, this.logger, this.pool);
    this.lease = new ActiveLease({ url: config.database.url, scope: `${config.appservice.id}@${config.homeserver.serverName}`, logger: this.logger });
    this.onLeaseLost =
      options.onLeaseLost ??
      ((reason) => {
        this.logger.fatal({ err: reason }, "lost the active lease: another Handover process may be active now; exiting so this one restarts as a standby");
        process.exit(75);
      });
    this.e2ee = createBotDevice(config, tokens.asToken, this.botUserId, this.db, this.audit, this.logger);
    if (this.e2ee) this.bot.setEncryptor(this.e2ee);
    const platform: Platform = {
      config,
      db: this.db,
      logger: this.logger,
      clock: this.clock,
      metrics: this.metrics,
      audit: this.audit,
      rooms: this.rooms,
      bot: this.bot,
      admin,
      botUserId: this.botUserId,
      jobs: this.jobs,
      filings: new PostgresFilingLedger(this.db),
      decryptor: this.e2ee,
      directoryGroups: () => this.capabilities.find((capability) => capability.groupMemberships)?.groupMemberships ?? null,
    };
    this.capabilities = CAPABILITIES.map((factory) => factory(platform));
    for (const capability of this.capabilities) {
      for (const [verb, help] of Object.entries(capability.commands ?? {})) capabilityCommands.set(verb.toLowerCase(), help);
    }
    const handleEvent = async (received: MatrixEvent) => {
      // In encrypted rooms handlers see the decrypted event when the bot's device has its key.
      const event = this.e2ee ? await this.e2ee.readable(received) : received;
      await roomEvents.handle(event);
      for (const capability of this.capabilities) await capability.onEvent?.(event);
      this.metrics.pumpLagSeconds.observe(Math.max(0, this.clock.now().getTime() - received.origin_server_ts) / 1000);
    };
    this.pump = new EventPump(this.inbox, handleEvent, {
      handled: () => this.metrics.events.inc({ outcome: "handled" }),
      beforeDone: async () => {
        for (const capability of this.capabilities) await capability.flushHandled?.();
      },
      notDone: (error) => this.logger.warn({ err: error }, "handled events stay in the inbox until their buffered work is written; they will be handled again"),
      failed: (event, error, gaveUp) => {
        this.metrics.events.inc({ outcome: gaveUp ? "gave_up" : "failed" });
        this.logger.warn({ eventId: event.event_id, roomId: event.room_id, type: event.type, err: error, gaveUp }, "event handling failed");
      },
    });
    const intake = new TransactionIntake(
      this.inbox,
      this.pump,
      {
        quarantined: (txnId, reason) => {
          this.metrics.events.inc({ outcome: "quarantined" });
          this.logger.warn({ txnId, reason }, "event set aside in quarantine");
        },
      },
      config.appservice.maxEventBytes,
    );
    this.endpoint = new TransactionEndpoint({
      hsToken: tokens.hsToken,
      maxBodyBytes: config.appservice.maxBodyBytes,
      intake,
      ...(this.e2ee ? { beforeIntake: (body: unknown) => (this.e2ee as EncryptionDevice).receiveTransaction(body) } : {}),
      observeAck: (seconds, outcome) => {
        this.metrics.ackSeconds.observe(seconds);
        this.metrics.transactions.inc({ outcome });
      },
      onError: (error) => this.logger.error({ err: error }, "could not store transaction"),
      routes: this.capabilities.flatMap((capability) => (capability.homeserverRoutes ? [capability.homeserverRoutes] : [])),
    });
    const roles = new PortalRoles({
      configured: (userId) => configuredRole(config.access, userId),
      roleGroups: config.access.roleGroups,
      directory: this.capabilities.find((capability) => capability.groupMemberships)?.groupMemberships ?? null,
      directoryFailed: (error) => this.logger.warn({ err: error }, "the directory could not say who is in which group: roles from groups count as none"),
    });
    const signInLimiter = new SignInLimiter({ ...config.access.signInLimits, windowMs: config.access.signInLimits.window }, this.clock);
    const signIn = new PortalSignIn({
      authenticator: new PasswordAuthenticator(
        config.homeserver.url,
        config.homeserver.serverName,
        config.web.publicUrl.startsWith("https:") ? "https" : "http",
      ),
      sessions: this.sessions,
      audit: this.audit,
      clock: this.clock,
      roleOf: (userId) => configuredRole(config.access, userId),
      grantOf: (userId) => roles.roleOf(userId),
      sessionTtlMs: config.access.sessionTtl,
      limiter: signInLimiter,
      serverName: config.homeserver.serverName,
      standing: new AccountStanding({
        homeserver: new SynapseAccountState(config.homeserver.url, config.homeserver.adminAccessToken),
        leavers: new PostgresDirectoryLeavers(this.db),
        clock: this.clock,
        recheckMs: config.access.accountRecheck,
        unreachable: (userId, error) => this.logger.warn({ userId, err: error }, "could not ask the homeserver whether an account is locked"),
      }),
    });
    this.signIn = signIn;
    const clientProtocol = config.web.publicUrl.startsWith("https:") ? "https" : "http";
    const homeserverSso = new HomeserverSso(
      config.homeserver.url,
      config.access.sso.homeserverPublicUrl ?? config.homeserver.url,
      config.homeserver.serverName,
      clientProtocol,
    );
    const sso = new SingleSignOn({
      homeserver: homeserverSso,
      sessions: signIn,
      audit: this.audit,
      callbackUrl: new URL(SSO_CALLBACK_PATH, config.web.publicUrl).toString(),
      limiter: signInLimiter,
    });
    this.web = new WebServer({
      handlers: Object.assign(
        apiHandlers({
          signIn,
          signInFlows: () => signInFlows(homeserverSso),
          rooms: this.rooms,
          classifier,
          audit: this.audit,
          overview: () => this.overview(),
        }),
        ...this.capabilities.map((capability) => capability.handlers ?? {}),
      ),
      resolveSession: (token) => signIn.resolve(token),
      readiness: () => this.readiness(),
      readinessProblems: () => this.readinessProblems(),
      metrics: this.metrics,
      logger: this.logger,
      publicUrl: config.web.publicUrl,
      portalDir: config.web.portalDir,
      trustedProxies: config.web.trustedProxies,
      metricsToken: config.web.metricsToken,
      version: VERSION,
      routes: [
        ssoRoutes({
          sso,
          icons: new IdentityProviderIcons(homeserverSso, config.homeserver.url, config.homeserver.adminAccessToken),
          publicUrl: config.web.publicUrl,
          logger: this.logger,
        }),
        ...this.capabilities.flatMap((capability) => (capability.webRoutes ? [capability.webRoutes] : [])),
      ],
    });
  }

  async start(): Promise<void> {
    await this.db.initialize();
    this.pool.start();
    if (await this.db.showMigrations()) {
      throw new Error("the database has migrations pending: run `handover migrate` first");
    }
    const tookOver = await this.becomeActive();
    try {
      await this.startActive(tookOver);
    } catch (error) {
      // A process that could not start must not keep a standby from taking over; stop() still
      // closes whatever did start.
      await this.lease.release();
      throw error;
    }
  }

  private async startActive(tookOver: boolean): Promise<void> {
    for (const capability of this.capabilities) await capability.start?.();
    this.jobs.start();
    await this.pump.recover();
    await this.endpoint.start(this.config.appservice.port, this.config.appservice.bindAddress);
    // Only once the endpoint listens: making and deleting devices makes Synapse send a
    // transaction, and one that fails puts the appservice in recovery, where Synapse drops
    // to-device messages (room keys). The ping ends any recovery left from the restart.
    await this.e2ee?.start();
    await this.e2ee?.listening();
    this.webPort = await this.web.start(this.config.web.port, this.config.web.bindAddress);
    // Transactions the dead process left are in Synapse's backoff: the ping ends it (the
    // encryption device pings already, above).
    if (tookOver && !this.e2ee) {
      await this.bot.ping(this.config.appservice.id).catch((error: unknown) => this.logger.warn({ err: error }, "appservice ping after taking over failed"));
    }
    this.every(30_000, () => this.pump.recover());
    this.every(HOUR_MS, async () => {
      await this.inbox.pruneTransactions(new Date(this.clock.now().getTime() - 7 * 24 * HOUR_MS));
      await this.sessions.deleteExpired(this.clock.now());
    });
    // A leaver's, locked or deactivated account's sessions go within a minute, requests or not.
    this.every(30_000, () => this.signIn.endSessionsOfClosedAccounts());
    this.logger.info({ botUserId: this.botUserId, appservicePort: this.config.appservice.port, webPort: this.webPort, version: VERSION }, "Handover started");
  }

  /**
   * Takes the trust's active lease, waiting as a standby while another process holds it: the
   * web port answers health checks (alive, not ready), the appservice port stays closed. True
   * when this process took over from another.
   */
  private async becomeActive(): Promise<boolean> {
    try {
      await this.lease.acquire(() => {
        this.role = "standby";
        this.logger.info("standby: another Handover process of this trust is active; taking over when it goes");
        const standby = new StandbyServer();
        this.standby = standby;
        standby.start(this.config.web.port, this.config.web.bindAddress).catch((error: unknown) => {
          this.logger.warn({ err: error }, "standby: could not open the web port for health checks");
        });
      });
    } finally {
      await this.closeStandbyServer();
    }
    const tookOver = this.role === "standby";
    if (tookOver) this.logger.warn("the active Handover process has gone: taking over");
    this.role = "active";
    this.lease.watch((reason) => this.onLeaseLost(reason));
    return tookOver;
  }

  /** Closes the standby's web port: on takeover, and on a stop while waiting (the port is free when stop() returns). */
  private async closeStandbyServer(): Promise<void> {
    const standby = this.standby;
    this.standby = null;
    await standby?.stop();
  }

  async stop(): Promise<void> {
    const wasActive = this.role === "active";
    this.role = "stopped";
    if (!wasActive) {
      await this.lease.release();
      await this.closeStandbyServer();
      this.pool.stop();
      if (this.db.isInitialized) await this.db.destroy();
      return;
    }
    // The lease goes last: a standby takes over only once this process has stopped acting.
    this.lease.unwatch();
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await this.endpoint.stop();
    await this.web.stop();
    await this.pump.idle();
    await this.jobs.stop();
    for (const capability of [...this.capabilities].reverse()) await capability.stop?.();
    await this.e2ee?.stop();
    await this.lease.release();
    this.pool.stop();
    if (this.db.isInitialized) await this.db.destroy();
  }

  private every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => this.logger.error({ err: error }, "periodic task failed"));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async homeserverVersions(): Promise<string[] | null> {
    try {
      const response = await fetch(new URL("/_matrix/client/versions", this.config.homeserver.url), { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) return null;
      return ((await response.json()) as { versions?: string[] }).versions ?? [];
    } catch {
      return null;
    }
  }

  async readiness(): Promise<Record<string, boolean>> {
    const [database, homeserver] = await Promise.all([this.pool.answers(), this.homeserverVersions().then((versions) => versions !== null)]);
    const extra = await Promise.all(this.capabilities.map((capability) => capability.readiness?.() ?? Promise.resolve({})));
    const e2ee = this.e2ee ? { e2ee: this.e2ee.problem() === null } : {};
    return Object.assign({ database, homeserver }, e2ee, ...extra);
  }

  /** Why /readyz says not ready, where a check alone would not tell. */
  readinessProblems(): string[] {
    const pool = this.pool.problem();
    return pool ? [pool] : [];
  }

  async overview(): Promise<Overview> {
    const [versions, registered, lastTransactionAt, rooms] = await Promise.all([
      this.homeserverVersions(),
      this.bot.whoami().then(
        (userId) => userId === this.botUserId,
        () => false,
      ),
      this.inbox.lastTransactionAt(),
      this.rooms.countByKind(),
    ]);
    return {
      trust: { serverName: this.config.homeserver.serverName, botUserId: this.botUserId },
      homeserver: { reachable: versions !== null, versions: versions ?? [] },
      appservice: { registered, lastTransactionAt: lastTransactionAt?.toISOString() ?? null },
      rooms,
      encryption: this.e2ee ? this.e2ee.status() : null,
    };
  }
}
