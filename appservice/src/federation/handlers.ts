import { HandoverError } from "../domain/errors.js";
import type { AgreementRecord } from "../domain/federation/agreement.js";
import type { AgreementService } from "../domain/federation/agreement-service.js";
import type { Organisation } from "../domain/federation/agreement-terms.js";
import type { FederationEnforcement } from "../domain/federation/enforcement.js";
import type { ExpectedPartnerList } from "../domain/federation/expected-partners.js";
import { WELL_KNOWN_PATH } from "../domain/federation/organisation.js";
import type { MessageLog } from "../domain/federation/ports.js";
import type { SigningKeys } from "../domain/federation/signing-keys.js";
import type { Agreement, EnforcementHealth, ExpectedPartners, OurOrganisation, WhitelistSnippet } from "../http/contract-federation.js";
import type { RouteHandlers } from "../http/web-server.js";

export interface FederationServices {
  organisation: Organisation;
  agreements: AgreementService;
  list(): Promise<AgreementRecord[]>;
  get(id: string): Promise<AgreementRecord | null>;
  log: MessageLog;
  keys: SigningKeys;
  enforcement: FederationEnforcement;
  expectedPartners: ExpectedPartnerList;
  /** When the Synapse module last asked for the allowed servers (this process). */
  moduleLastAskedAt(): Date | null;
  moduleCheckWindowMs: number;
  now(): Date;
}

type FederationRoutes = Pick<
  RouteHandlers,
  | "getOrganisation"
  | "rotateSigningKey"
  | "listAgreements"
  | "proposeAgreement"
  | "getAgreement"
  | "actOnAgreement"
  | "federationEnforcement"
  | "federationWhitelist"
  | "listExpectedPartners"
  | "addExpectedPartner"
  | "removeExpectedPartner"
>;

const notConfigured = () => new HandoverError("NOT_FOUND", "Federation is not configured for this trust (the `federation` section of the config)");

/** Routes for a Handover without a `federation` section: reads say so, writes are refused. */
export function unconfiguredFederationHandlers(): FederationRoutes {
  return {
    getOrganisation: async () => ({ configured: false, organisation: null, wellKnownPath: WELL_KNOWN_PATH, keys: [] }),
    rotateSigningKey: async () => {
      throw notConfigured();
    },
    listAgreements: async () => ({ agreements: [] }),
    proposeAgreement: async () => {
      throw notConfigured();
    },
    getAgreement: async () => {
      throw notConfigured();
    },
    actOnAgreement: async () => {
      throw notConfigured();
    },
    federationEnforcement: async () => ({
      configured: false,
      allowedServers: [],
      module: { lastAskedAt: null, reachable: false, status: "not-asked-yet" },
      acls: { managedRooms: 0, inSync: 0, failed: [], lastCheckAt: null, lastPass: null },
    }),
    federationWhitelist: async () => {
      throw notConfigured();
    },
    listExpectedPartners: async () => ({ fromConfig: [], added: [] }),
    addExpectedPartner: async () => {
      throw notConfigured();
    },
    removeExpectedPartner: async () => {
      throw notConfigured();
    },
  };
}

function actorOf(session: { userId: string } | null): string {
  if (!session) throw new Error("route table guarantees a session here");
  return session.userId;
}

export function federationHandlers(s: FederationServices): FederationRoutes {
  const agreementView = async (record: AgreementRecord): Promise<Agreement> => ({
    id: record.id,
    peer: record.peer,
    proposedBy: record.proposedBy,
    status: record.status,
    terms: record.terms,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    statusChangedBy: record.statusChangedBy,
    reason: record.reason,
    undelivered: await s.log.undeliveredCount(record.id),
  });
  const organisationView = async (): Promise<OurOrganisation> => ({
    configured: true,
    organisation: s.organisation,
    wellKnownPath: WELL_KNOWN_PATH,
    keys: (await s.keys.all()).map((k) => ({
      keyId: k.key.keyId,
      publicKey: k.key.publicKey,
      createdAt: k.createdAt.toISOString(),
      retiredAt: k.retiredAt?.toISOString() ?? null,
    })),
  });
  const expectedPartnersView = async (): Promise<ExpectedPartners> => {
    const { fromConfig, added } = await s.expectedPartners.list();
    return { fromConfig, added: added.map((row) => ({ pattern: row.pattern, addedBy: row.addedBy, addedAt: row.addedAt.toISOString() })) };
  };
  return {
    getOrganisation: organisationView,
    listExpectedPartners: expectedPartnersView,
    addExpectedPartner: async ({ body, session }) => {
      await s.expectedPartners.add(actorOf(session), body.pattern);
      return expectedPartnersView();
    },
    removeExpectedPartner: async ({ params, session }) => {
      await s.expectedPartners.remove(actorOf(session), params.pattern);
      return expectedPartnersView();
    },
    rotateSigningKey: async ({ session }) => {
      await s.keys.rotate(actorOf(session));
      return organisationView();
    },
    listAgreements: async () => ({ agreements: await Promise.all((await s.list()).map(agreementView)) }),
    proposeAgreement: async ({ body, session }) => {
      const { peerServerName, ...terms } = body;
      return agreementView(await s.agreements.propose(actorOf(session), peerServerName, terms));
    },
    getAgreement: async ({ params }) => {
      const record = await s.get(params.agreementId);
      if (!record) throw new HandoverError("NOT_FOUND", "No such agreement");
      const history = await s.log.history(record.id);
      return {
        agreement: await agreementView(record),
        history: history.map((h) => ({
          id: h.message.id,
          direction: h.direction,
          type: h.message.type,
          at: h.at.toISOString(),
          deliveredAt: h.deliveredAt?.toISOString() ?? null,
          lastError: h.lastError,
          signed: h.message as unknown as Record<string, unknown>,
        })),
      };
    },
    actOnAgreement: async ({ params, body, session }) => agreementView(await s.agreements.act(actorOf(session), params.agreementId, body.action, body.reason)),
    federationEnforcement: async (): Promise<EnforcementHealth> => {
      const status = s.enforcement.lastStatus;
      const asked = s.moduleLastAskedAt();
      const reachable = asked !== null && s.now().getTime() - asked.getTime() <= s.moduleCheckWindowMs;
      return {
        configured: true,
        allowedServers: await s.enforcement.allowedServers(),
        module: {
          lastAskedAt: asked?.toISOString() ?? null,
          reachable,
          status: asked === null ? "not-asked-yet" : reachable ? "asking" : "not-asked-recently",
        },
        acls: {
          managedRooms: status.managedRooms,
          inSync: status.inSync,
          failed: status.failed.slice(0, 50),
          lastCheckAt: status.lastCheckAt?.toISOString() ?? null,
          lastPass: status.lastPass ?? null,
        },
      };
    },
    federationWhitelist: async (): Promise<WhitelistSnippet> => {
      const servers = [s.organisation.serverName, ...(await s.enforcement.allowedServers())];
      // Synapse compares federation_domain_whitelist with the full server name, port included.
      const hosts = [...new Set(servers)];
      const yaml = [
        "# Generated by Handover from this trust's active federation agreements.",
        "# Synapse reads federation_domain_whitelist only at start-up: restart Synapse after changing it.",
        "# Keep Handover's Synapse module installed too: it follows agreement changes without a restart.",
        "federation_domain_whitelist:",
        ...hosts.map((host) => `  - ${host}`),
        "",
      ].join("\n");
      return { servers: hosts, yaml };
    },
  };
}
