import { randomBytes, randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { AgreementService } from "../domain/federation/agreement-service.js";
import { FederationEnforcement, type ServerAcl } from "../domain/federation/enforcement.js";
import { ExpectedPartnerList, SenderGate } from "../domain/federation/expected-partners.js";
import { MessageRejected, MessageVerifier } from "../domain/federation/message-verifier.js";
import { buildOrganisationDocument, INBOX_PATH, WELL_KNOWN_PATH } from "../domain/federation/organisation.js";
import { SigningKeys } from "../domain/federation/signing-keys.js";
import { serverNameOf } from "../domain/matrix-event.js";
import { errorBody, STATUS_OF, toHandoverError } from "../http/errors.js";
import { PostgresAgreementStore } from "../storage/federation-agreement-store.js";
import { PostgresExpectedPartnerStore } from "../storage/federation-expected-partner-store.js";
import { PostgresSigningKeyStore } from "../storage/federation-key-store.js";
import { PostgresMessageLog } from "../storage/federation-message-store.js";
import { PostgresPeerKeyPins } from "../storage/federation-peer-store.js";
import { federationHandlers, unconfiguredFederationHandlers } from "./handlers.js";
import { registerFederationMetrics } from "./metrics.js";
import { PeerClient } from "./peer-client.js";

const SERVER_ACL = "m.room.server_acl";
/** Path under the appservice listener's /_handover mount that the Synapse module polls. */
export const ALLOWED_SERVERS_PATH = "/federation/v1/allowed-servers";

/** Without a `federation` section: the module is told to enforce nothing, the API says "not configured". */
function unconfigured(): Capability {
  const homeserverRoutes = Router();
  homeserverRoutes.get(ALLOWED_SERVERS_PATH, (_req, res) => {
    res.send({ enforce: false, allowed_servers: [] });
  });
  return { name: "federation", handlers: unconfiguredFederationHandlers(), homeserverRoutes };
}

export const federationCapability: CapabilityFactory = (platform: Platform): Capability => {
  const config = platform.config.federation;
  if (!config) return unconfigured();
  const { db, clock, audit, bot } = platform;
  const ownServerName = platform.config.homeserver.serverName;
  const organisation = { serverName: ownServerName, ...config.organisation };
  const inboxUrl = new URL(INBOX_PATH, platform.config.web.publicUrl).toString();
  const agreementStore = new PostgresAgreementStore(db);
  let moduleLastAskedAt: Date | null = null;
  const metrics = registerFederationMetrics(platform.metrics.registry, () => moduleLastAskedAt);
  const log = new PostgresMessageLog(db);
  const keys = new SigningKeys({
    store: new PostgresSigningKeyStore(db, config.keyEncryptionSecret),
    clock,
    audit,
    serverName: ownServerName,
    newKeyId: () => randomBytes(6).toString("base64url"),
  });
  const peers = new PeerClient({
    peers: config.peers,
    allowInsecure: config.allowInsecurePeers,
    allowLocalAddresses: config.allowLocalPeers,
    timeoutMs: config.peerTimeout,
    pins: new PostgresPeerKeyPins(db),
    clock,
  });
  const expectedPartnerStore = new PostgresExpectedPartnerStore(db);
  const expectedPartners = new ExpectedPartnerList({ store: expectedPartnerStore, configPatterns: config.expectedPartners, audit, clock });
  const enforcement = new FederationEnforcement({
    ownServerName,
    agreements: agreementStore,
    rooms: {
      managedRoomIds: async () =>
        (await platform.rooms.list()).filter((room) => room.botMembership === "join" && serverNameOf(room.roomId) === ownServerName).map((room) => room.roomId),
    },
    acl: {
      readAcl: async (roomId) => (await bot.stateContent(roomId, SERVER_ACL)) as ServerAcl | null,
      writeAcl: (roomId, acl) => bot.setState(roomId, SERVER_ACL, "", { ...acl }),
    },
    members: { members: (roomId) => bot.memberIds(roomId), kick: (roomId, userId, reason) => bot.removeMember(roomId, userId, reason) },
    spaces: { children: (spaceId) => bot.spaceChildren(spaceId) },
    audit,
    clock,
    // Starts where a fixed 8 used to sit and climbs while Synapse answers within four times its
    // fastest answer: measured (docs/performance.md), Synapse sends state events faster with up to
    // 64 in flight, and a revocation is worth a few seconds' slower answers to everyone else.
    // The appservice registration is not rate-limited (rate_limited: false).
    concurrency: { initial: 8, min: 2, max: 64, tolerance: 4 },
    retryDelaysMs: [1_000, 5_000],
    sleep: (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs)),
    roomAcls: config.roomAcls,
  });
  const messageLifetimeMs = config.messageLifetime;
  const verifier = new MessageVerifier({
    ownServerName,
    clock,
    peers,
    log,
    senders: new SenderGate({ configPatterns: config.expectedPartners, stored: expectedPartnerStore, agreements: agreementStore }),
    onLookupFailure: (server, error) => platform.logger.warn({ server, err: error }, "a sender's organisation could not be read or verified"),
    maxLifetimeMs: Math.max(messageLifetimeMs, 24 * 3_600_000),
    clockSkewMs: config.clockSkew,
  });
  const agreements = new AgreementService({
    ownServerName,
    agreements: agreementStore,
    log,
    peers,
    transport: peers,
    keys,
    verifier,
    audit,
    clock,
    listener: metrics.timed(enforcement),
    onEnforcementError: (error) => platform.logger.error({ err: error }, "federation enforcement failed"),
    newId: randomUUID,
    messageLifetimeMs,
  });

  const webRoutes = Router();
  webRoutes.get(WELL_KNOWN_PATH, async (_req, res, next) => {
    try {
      const document = buildOrganisationDocument(organisation, inboxUrl, await keys.current(), await keys.rotations());
      res.set({ "cache-control": "max-age=60", "access-control-allow-origin": "*" }).send(document);
    } catch (error) {
      next(error);
    }
  });
  webRoutes.post(INBOX_PATH, express.json({ limit: "64kb", type: () => true }), async (req, res, next) => {
    try {
      const agreement = await agreements.receive(req.body);
      metrics.accepted();
      res.send({ accepted: true, agreementId: agreement.id, status: agreement.status });
    } catch (error) {
      next(error);
    }
  });
  webRoutes.use([WELL_KNOWN_PATH, INBOX_PATH], (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const handoverError = toHandoverError(error);
    if (req.path === INBOX_PATH) metrics.refused(error instanceof MessageRejected ? error.reason : handoverError.code);
    if (handoverError.code === "INTERNAL") platform.logger.error({ err: error }, "federation endpoint failed");
    else
      platform.logger.warn(
        { reason: error instanceof MessageRejected ? error.reason : handoverError.code, message: handoverError.message },
        "peer message refused",
      );
    res
      .status(STATUS_OF[handoverError.code])
      .set("cache-control", "no-store")
      .send({ ...errorBody(handoverError), ...(error instanceof MessageRejected ? { reason: error.reason } : {}) });
  });

  const homeserverRoutes = Router();
  homeserverRoutes.get(ALLOWED_SERVERS_PATH, async (_req, res, next) => {
    try {
      moduleLastAskedAt = clock.now();
      res.send({ enforce: true, server_name: ownServerName, allowed_servers: await enforcement.allowedServers() });
    } catch (error) {
      next(error);
    }
  });

  const syncAll = async () => {
    const status = await enforcement.sync();
    platform.logger.debug({ ...status }, "federation ACL sync");
  };

  return {
    name: "federation",
    handlers: federationHandlers({
      organisation,
      agreements,
      list: () => agreementStore.list(),
      get: (id) => agreementStore.get(id),
      log,
      keys,
      enforcement,
      expectedPartners,
      moduleLastAskedAt: () => moduleLastAskedAt,
      moduleCheckWindowMs: config.moduleCheckWindow,
      now: () => clock.now(),
    }),
    webRoutes,
    homeserverRoutes,
    async start() {
      await keys.current();
      platform.jobs.register({ name: "federation-acl-sync", intervalMs: config.aclSyncInterval, runAtStart: true }, syncAll);
      platform.jobs.register({ name: "federation-redelivery", intervalMs: config.redeliveryInterval }, async () => {
        await agreements.redeliver();
      });
    },
    async stop() {
      await agreements.idle();
    },
    async onEvent(event) {
      if (serverNameOf(event.sender) !== ownServerName) metrics.partnerEvent();
      const own = serverNameOf(event.room_id) === ownServerName;
      if (!own) return;
      const botJoined = event.type === "m.room.member" && event.state_key === platform.botUserId && event.content.membership === "join";
      const aclChanged = event.type === SERVER_ACL && event.sender !== platform.botUserId;
      const spaceChanged = event.type === "m.space.child";
      // Keep the room's ACL in line straight away; failures are retried by the periodic sync.
      const failed = (error: unknown) => platform.logger.warn({ err: error, roomId: event.room_id }, "federation ACL sync failed");
      if (spaceChanged) await enforcement.sync().catch(failed);
      else if (botJoined || aclChanged) await enforcement.syncRooms([event.room_id]).catch(failed);
    },
    async readiness() {
      return {
        federationSigningKey: await keys.current().then(
          () => true,
          () => false,
        ),
      };
    },
  };
};
