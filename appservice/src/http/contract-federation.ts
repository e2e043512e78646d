/**
 * Federation agreements: the admin API's schemas and routes. The words are the domain's
 * (domain/federation): the schemas are built from its lists and checked against its types.
 * Imports only zod, the shared contract and those vocabulary files, which import nothing (the
 * portal bundles it).
 */
import { z } from "zod";
import { AGREEMENT_ACTIONS, AGREEMENT_STATUSES, type AgreementScope, type AgreementTerms, type Organisation } from "../domain/federation/agreement-terms.js";
import { PARTNER_PATTERN } from "../domain/federation/partner-pattern.js";
import type { RouteContract } from "./contract-shared.js";

/** A Matrix server name: host, optional port. */
export const serverNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, { message: "expected a Matrix server name like matrix.trust.nhs.uk or host:port" });

export const partnerPatternSchema = z
  .string()
  .trim()
  .max(255)
  .regex(PARTNER_PATTERN, { message: "expected a server name like matrix.trust.nhs.uk, host:port, or a pattern like *.nhs.uk" });

export const expectedPartnersSchema = z.object({
  /** From the config file (`federation.expectedPartners`); changed only there. */
  fromConfig: z.array(z.string()),
  added: z.array(z.object({ pattern: z.string(), addedBy: z.string(), addedAt: z.iso.datetime() })),
});
export type ExpectedPartners = z.infer<typeof expectedPartnersSchema>;

export const addExpectedPartnerRequestSchema = z.strictObject({ pattern: partnerPatternSchema });
export type AddExpectedPartnerRequest = z.infer<typeof addExpectedPartnerRequestSchema>;

export const expectedPartnerParamsSchema = z.strictObject({ pattern: partnerPatternSchema });

export const agreementStatusSchema = z.enum(AGREEMENT_STATUSES);

export const agreementScopeSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("all") }).describe("Every room Handover manages on both sides."),
  z
    .strictObject({
      kind: z.literal("spaces"),
      spaces: z
        .array(z.string().regex(/^![^\s]+$/, { message: "expected a Matrix room ID of a space like !abc:server" }))
        .min(1)
        .max(50),
    })
    .describe("Only the named spaces and their child rooms."),
]) satisfies z.ZodType<AgreementScope>;

export const agreementTermsSchema = z.strictObject({
  scope: agreementScopeSchema,
  purpose: z.string().trim().min(3).max(2000).describe("Why the trusts federate, e.g. the regional stroke network."),
  reviewDate: z.iso.date().describe("When both sides review the agreement (YYYY-MM-DD)."),
  retention: z.string().trim().min(3).max(2000).describe("How filed content is retained on both sides."),
}) satisfies z.ZodType<AgreementTerms>;

export const proposeAgreementRequestSchema = agreementTermsSchema.extend({
  peerServerName: serverNameSchema.describe("The partner trust's Matrix server name."),
});
export type ProposeAgreementRequest = z.infer<typeof proposeAgreementRequestSchema>;

export const organisationSchema = z.object({
  serverName: z.string(),
  name: z.string(),
  odsCode: z.string(),
  contact: z.string(),
}) satisfies z.ZodType<Organisation>;

export const agreementSchema = z.object({
  id: z.string(),
  peer: organisationSchema,
  /** Who proposed it: this trust ("us") or the partner ("peer"). */
  proposedBy: z.enum(["us", "peer"]),
  status: agreementStatusSchema,
  terms: agreementTermsSchema,
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  statusChangedBy: z.string().nullable(),
  reason: z.string().nullable(),
  /** Messages to the partner not yet delivered (they are retried). */
  undelivered: z.number().int(),
});
export type Agreement = z.infer<typeof agreementSchema>;

export const agreementListSchema = z.object({ agreements: z.array(agreementSchema) });
export type AgreementList = z.infer<typeof agreementListSchema>;

export const signedMessageSchema = z.record(z.string(), z.unknown());

export const agreementMessageSchema = z.object({
  id: z.string(),
  direction: z.enum(["sent", "received"]),
  type: z.string(),
  at: z.iso.datetime(),
  deliveredAt: z.iso.datetime().nullable(),
  lastError: z.string().nullable(),
  /** The signed message exactly as it travelled. */
  signed: signedMessageSchema,
});
export type AgreementMessage = z.infer<typeof agreementMessageSchema>;

export const agreementDetailSchema = z.object({
  agreement: agreementSchema,
  history: z.array(agreementMessageSchema),
});
export type AgreementDetail = z.infer<typeof agreementDetailSchema>;

export const agreementActionRequestSchema = z.strictObject({
  action: z.enum(AGREEMENT_ACTIONS),
  reason: z.string().trim().max(2000).optional(),
});
export type AgreementActionRequest = z.infer<typeof agreementActionRequestSchema>;

export const agreementIdParamsSchema = z.strictObject({ agreementId: z.uuid({ message: "expected an agreement id (UUID)" }) });

export const signingKeySchema = z.object({
  keyId: z.string(),
  publicKey: z.string().describe("Ed25519 public key, base64 (raw 32 bytes)."),
  createdAt: z.iso.datetime(),
  retiredAt: z.iso.datetime().nullable(),
});

export const ourOrganisationSchema = z.object({
  configured: z.boolean(),
  organisation: organisationSchema.nullable(),
  wellKnownPath: z.string(),
  keys: z.array(signingKeySchema),
});
export type OurOrganisation = z.infer<typeof ourOrganisationSchema>;

export const enforcementHealthSchema = z.object({
  configured: z.boolean(),
  allowedServers: z.array(z.string()),
  module: z.object({
    lastAskedAt: z.iso.datetime().nullable(),
    reachable: z.boolean().describe("The Synapse module asked for the allowed servers recently."),
    status: z
      .enum(["not-asked-yet", "asking", "not-asked-recently"])
      .describe(
        "not-asked-yet: no question since Handover started; not-asked-recently: its last question is older than the check window. The module asks when federation traffic needs a decision (invites, joins, partners' events), so a quiet trust is not-asked-recently too.",
      ),
  }),
  acls: z.object({
    managedRooms: z.number().int(),
    inSync: z.number().int(),
    failed: z.array(z.object({ roomId: z.string(), error: z.string() })),
    lastCheckAt: z.iso.datetime().nullable(),
    lastPass: z
      .object({
        written: z.number().int(),
        peakConcurrency: z.number().int().describe("Most ACL calls the pass had in flight at once (adapted to Synapse's answer times)."),
        sweepMs: z.object({ read: z.number(), write: z.number(), readBack: z.number() }).describe("Time spent reading, writing and reading back ACLs."),
      })
      .nullable(),
  }),
});
export type EnforcementHealth = z.infer<typeof enforcementHealthSchema>;

export const whitelistSnippetSchema = z.object({
  servers: z.array(z.string()),
  yaml: z.string(),
});
export type WhitelistSnippet = z.infer<typeof whitelistSnippetSchema>;

export const FEDERATION_API = {
  getOrganisation: {
    method: "get",
    path: "/federation/organisation",
    summary: "This trust's organisation identity and signing keys",
    access: "session",
    response: ourOrganisationSchema,
  },
  rotateSigningKey: {
    method: "post",
    path: "/federation/organisation/key-rotation",
    summary: "Replace the signing key; the new key is signed by the old one",
    access: ["admin"],
    response: ourOrganisationSchema,
    status: 201,
  },
  listAgreements: {
    method: "get",
    path: "/federation/agreements",
    summary: "Federation agreements with partner trusts",
    access: "session",
    response: agreementListSchema,
  },
  proposeAgreement: {
    method: "post",
    path: "/federation/agreements",
    summary: "Propose an agreement to a partner trust",
    access: ["admin"],
    body: proposeAgreementRequestSchema,
    response: agreementSchema,
    status: 201,
  },
  getAgreement: {
    method: "get",
    path: "/federation/agreements/:agreementId",
    summary: "One agreement with its signed history",
    access: "session",
    params: agreementIdParamsSchema,
    response: agreementDetailSchema,
  },
  actOnAgreement: {
    method: "post",
    path: "/federation/agreements/:agreementId/actions",
    summary: "Accept, decline, suspend, resume or revoke an agreement",
    access: ["admin"],
    params: agreementIdParamsSchema,
    body: agreementActionRequestSchema,
    response: agreementSchema,
  },
  federationEnforcement: {
    method: "get",
    path: "/federation/enforcement",
    summary: "Enforcement health: Synapse module, room server ACLs",
    access: "session",
    response: enforcementHealthSchema,
  },
  federationWhitelist: {
    method: "get",
    path: "/federation/whitelist",
    summary: "A federation_domain_whitelist snippet for homeserver.yaml (needs a Synapse restart)",
    access: ["admin", "ig-lead"],
    response: whitelistSnippetSchema,
  },
  listExpectedPartners: {
    method: "get",
    path: "/federation/expected-partners",
    summary: "Servers that may make first contact (config and portal)",
    access: "session",
    response: expectedPartnersSchema,
  },
  addExpectedPartner: {
    method: "post",
    path: "/federation/expected-partners",
    summary: "Let a server (or *.domain) make first contact",
    access: ["admin"],
    body: addExpectedPartnerRequestSchema,
    response: expectedPartnersSchema,
    status: 201,
  },
  removeExpectedPartner: {
    method: "delete",
    path: "/federation/expected-partners/:pattern",
    summary: "Stop expecting first contact from a server or pattern (agreements already made stay)",
    access: ["admin"],
    params: expectedPartnerParamsSchema,
    response: expectedPartnersSchema,
  },
} as const satisfies Record<string, RouteContract>;
