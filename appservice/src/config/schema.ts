import { z } from "zod";
import { roleSchema } from "../http/contract.js";
import { partnerPatternSchema } from "../http/contract-federation.js";
import { auditSchema } from "./audit.js";
import { devicesSchema } from "./devices.js";
import { directorySchema } from "./directory.js";
import { duration } from "./duration.js";
import { e2eeSchema } from "./e2ee.js";
import { recordsSchema } from "./records.js";
import { retentionSchema } from "./retention.js";
import { databasePassword, generatedSecret, isPlaceholderSecret, issuedSecret, SECRET_PLACEHOLDERS } from "./secret.js";

/**
 * The one configuration schema: it is the type, the validator and the source of
 * config.sample.yaml (`handover config sample`). Every object is strict so a misspelt key is
 * an error that names it rather than a setting silently ignored.
 */

const matrixUserId = z.string().regex(/^@[a-z0-9._=\-/+]+:[A-Za-z0-9.-]+(:\d+)?$/, { message: "expected a Matrix user ID like @alice:trust.example" });

const homeserverSchema = z
  .strictObject({
    serverName: z
      .string()
      .min(1)
      .describe("The trust's Matrix server name: the part after ':' in user IDs.")
      .meta({ examples: ["matrix.trust.nhs.uk"] }),
    url: z
      .url()
      .describe("Client-server API base URL Handover uses to reach Synapse.")
      .meta({ examples: ["http://synapse:8008"] }),
    adminAccessToken: issuedSecret(SECRET_PLACEHOLDERS.adminAccessToken).describe(
      "Access token of a Synapse server admin account used for the admin API. Prefer the env var HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN.",
    ),
  })
  .describe("The trust's own Synapse homeserver.");

const appserviceSchema = z
  .strictObject({
    id: z.string().min(1).default("handover").describe("Appservice id in the registration file."),
    botLocalpart: z
      .string()
      .regex(/^[a-z0-9._=\-/]+$/)
      .default("handover")
      .describe("Localpart of the bot user, @<botLocalpart>:<serverName>."),
    bindAddress: z.string().default("127.0.0.1").describe("Address the transaction endpoint listens on."),
    port: z.number().int().min(1).max(65535).default(9000).describe("Port the transaction endpoint listens on."),
    url: z
      .url()
      .describe("URL Synapse uses to reach the transaction endpoint (written into the registration).")
      .meta({ examples: ["http://handover:9000"] }),
    registrationFile: z
      .string()
      .min(1)
      .describe("Path of the registration YAML (holds as_token and hs_token); written by `handover generate-registration`.")
      .meta({ examples: ["/data/handover-registration.yaml"] }),
    maxBodyBytes: z
      .number()
      .int()
      .min(16 * 1024 * 1024)
      .default(32 * 1024 * 1024)
      .describe(
        "Largest transaction body accepted. Synapse puts up to 100 events (64 KiB each, plus what it adds under `unsigned`), 100 ephemeral events and 100 to-device messages in one transaction and retries a refused one forever, so this must cover that.",
      ),
    maxEventBytes: z
      .number()
      .int()
      .min(192 * 1024)
      .default(256 * 1024)
      .describe(
        "An event larger than this (as JSON) is set aside in quarantined_events with its reason, and the rest of its transaction is processed. Synapse's own limit is 64 KiB per event, plus the previous content of a state event and other `unsigned` data.",
      ),
  })
  .describe("The Matrix application service side.");

const databaseSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: "expected a postgres:// URL" })
      .refine((url) => !isPlaceholderSecret(databasePassword(url) ?? ""), {
        message: "the password in this URL is a placeholder from the sample; generate one (e.g. `openssl rand -hex 32`)",
      })
      .describe("PostgreSQL connection URL. Env: HANDOVER__DATABASE__URL.")
      .meta({ examples: ["postgres://handover:secret@postgres:5432/handover"] }),
    poolSize: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(10)
      .describe("Connections in the pool for requests and events; Handover adds one for each periodic job it runs."),
    poolExhaustedAfter: duration()
      .prefault("5s")
      .describe("/readyz reports the database not ready once callers have waited this long for a pooled connection without a break."),
  })
  .describe("Handover's own PostgreSQL database.");

const webSchema = z
  .strictObject({
    bindAddress: z.string().default("127.0.0.1").describe("Address the admin API and portal listen on."),
    port: z.number().int().min(1).max(65535).default(8090).describe("Port the admin API and portal listen on."),
    publicUrl: z
      .url()
      .describe("URL people use to open the portal; cookies are marked Secure when it is https.")
      .meta({ examples: ["https://handover.trust.nhs.uk"] }),
    portalDir: z.string().optional().describe("Directory of the built portal to serve; unset serves the API only."),
    trustedProxies: z
      .array(z.string().min(1))
      .default(["loopback"])
      .describe(
        "Reverse proxies whose X-Forwarded-For is believed: addresses, CIDR ranges, or loopback / linklocal / uniquelocal. A request from anywhere else counts as coming from its own address, so a client cannot choose the address sign-in limits count against.",
      )
      .meta({ examples: [["loopback", "10.20.0.5"]] }),
    metricsToken: generatedSecret()
      .optional()
      .describe("When set, /metrics answers only requests with `Authorization: Bearer <metricsToken>`. Env: HANDOVER__WEB__METRICS_TOKEN."),
  })
  .describe("Admin API (/api/v1) and portal.");

const accessSchema = z
  .strictObject({
    roles: z
      .record(matrixUserId, roleSchema)
      .default({})
      .describe("Who may use the portal: Matrix user ID -> admin | ig-lead | auditor. Anyone not listed is refused.")
      .meta({ examples: [{ "@alice.admin:matrix.trust.nhs.uk": "admin", "@bob.ig:matrix.trust.nhs.uk": "ig-lead" }] }),
    roleGroups: z
      .record(z.string().min(1).max(200), roleSchema)
      .default({})
      .describe(
        "Roles from directory groups: group name (as directory sync's sources name it: an LDAP or SCIM group, or a CSV source's group template such as an ESR position) -> admin | ig-lead | auditor. Nested membership counts; the strongest role wins; an entry in `roles` wins over any group. Needs a `directory` section.",
      )
      .meta({ examples: [{ "Handover Administrators": "admin", "Information Governance": "ig-lead" }] }),
    sessionTtl: duration().prefault("8h").describe("How long a portal sign-in lasts."),
    signInLimits: z
      .strictObject({
        perAccount: z.number().int().min(1).max(100).default(5).describe("Failed sign-ins allowed for one account name within `window`."),
        perAddress: z.number().int().min(1).max(1000).default(10).describe("Failed sign-ins allowed from one client address within `window`."),
        window: duration().prefault("15m").describe("How long a failed sign-in counts against its account and its address."),
      })
      .prefault({})
      .describe(
        "Handover's own limits on failed sign-ins, checked before it asks the homeserver; over a limit the answer is 429 with Retry-After. The client's address is passed to Synapse in X-Forwarded-For (Synapse's listener needs x_forwarded: true), so Synapse's own per-address limit counts each client, not Handover.",
      ),
    accountRecheck: duration()
      .refine((ms) => ms <= 60_000, { message: "expected at most 1m: a closed account's session must end within a minute" })
      .prefault("30s")
      .describe(
        "How long the homeserver's word that an account is neither locked nor deactivated is trusted before it is asked again; a leaver, locked or deactivated account's portal session ends within this (checked on each request and every 30s).",
      ),
    sso: z
      .strictObject({
        homeserverPublicUrl: z
          .url()
          .optional()
          .describe("Where people's browsers reach the homeserver, if not at homeserver.url (single sign-on sends the browser there).")
          .meta({ examples: ["https://matrix.trust.nhs.uk"] }),
      })
      .default({})
      .describe(
        "Single sign-on through the homeserver: offered whenever the homeserver offers m.login.sso (docs/sign-in.md). The homeserver sends people back to <web.publicUrl>/auth/sso/callback; list that in Synapse's sso.client_whitelist.",
      ),
  })
  .describe(
    "Portal sign-in and roles. People sign in with their own Matrix account on the trust's homeserver: a password or single sign-on, as the homeserver offers.",
  );

const loggingSchema = z
  .strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info").describe("Log level (JSON logs; message bodies are never logged)."),
  })
  .prefault({});

const federationSchema = z
  .strictObject({
    organisation: z
      .strictObject({
        name: z
          .string()
          .min(1)
          .max(200)
          .describe("The trust's name as partners see it.")
          .meta({ examples: ["Example Hospitals NHS Foundation Trust"] }),
        odsCode: z
          .string()
          .regex(/^[A-Z0-9]{3,10}$/, { message: "expected an ODS code like RXX or RXX01" })
          .describe("The trust's ODS code (https://fhir.nhs.uk/Id/ods-organization-code).")
          .meta({ examples: ["RXX"] }),
        contact: z
          .string()
          .min(3)
          .max(320)
          .describe("Who partners contact about the agreement (an email address).")
          .meta({ examples: ["matrix-federation@example.nhs.uk"] }),
      })
      .describe("This trust's identity in agreements, published at /.well-known/handover/organisation."),
    keyEncryptionSecret: generatedSecret("change-me-to-a-long-random-secret").describe(
      "Secret that encrypts the organisation's Ed25519 private signing key in the database. Env: HANDOVER__FEDERATION__KEY_ENCRYPTION_SECRET.",
    ),
    peers: z
      .record(z.string().min(1), z.url())
      .default({})
      .describe(
        "Where to reach a partner's Handover, by its Matrix server name. Unlisted partners are reached at https://<host of the server name>, whose reverse proxy must route /.well-known/handover/ and /_handover/ to Handover's web listener.",
      )
      .meta({ examples: [{ "matrix.partner.nhs.uk": "https://handover.partner.nhs.uk" }] }),
    allowInsecurePeers: z
      .boolean()
      .default(false)
      .describe("Allow plain http:// partner URLs. Only for tests on loopback: production traffic between trusts must be HTTPS."),
    allowLocalPeers: z
      .boolean()
      .default(false)
      .describe(
        "Allow partner addresses on loopback, private or link-local networks. Only for local testing (the test stacks run both trusts on loopback); off, Handover never connects to such an address for a partner.",
      ),
    peerTimeout: duration().prefault("10s").describe("Longest wait for a partner's organisation document or inbox answer, connecting and reading included."),
    expectedPartners: z
      .array(partnerPatternSchema)
      .default([])
      .describe(
        "Servers that may contact this trust's inbox before any agreement with them, first contact included (admins can add more in the portal). A server not listed and not a partner yet is refused before Handover makes any request for it.",
      )
      .meta({ examples: [["*.nhs.uk", "matrix.partner.nhs.uk"]] }),
    messageLifetime: duration().prefault("1h").describe("How long a signed message stays valid after it is issued."),
    clockSkew: duration().prefault("5m").describe("Clock difference tolerated between two trusts' servers."),
    aclSyncInterval: duration().prefault("1m").describe("How often every managed room's server ACL is checked against the agreements."),
    redeliveryInterval: duration().prefault("30s").describe("How often undelivered messages to partners are sent again."),
    roomAcls: z.boolean().default(true).describe("Write m.room.server_acl (this trust plus partners in scope) in every room Handover manages."),
    moduleCheckWindow: duration().prefault("2m").describe("The Synapse module counts as reachable if it asked for the allowed servers within this time."),
  })
  .describe(
    "Federation agreements with other trusts. Leave out to run without federation: the Synapse module then enforces nothing and no server ACLs are written.",
  );

export const configSchema = z.strictObject({
  homeserver: homeserverSchema,
  appservice: appserviceSchema,
  database: databaseSchema,
  web: webSchema,
  access: accessSchema.prefault({}),
  logging: loggingSchema,
  directory: directorySchema.optional(),
  federation: federationSchema.optional(),
  retention: retentionSchema.optional(),
  records: recordsSchema.optional(),
  e2ee: e2eeSchema.optional(),
  audit: auditSchema.optional(),
  devices: devicesSchema.optional(),
});

export type HandoverConfig = z.infer<typeof configSchema>;
export type HandoverConfigInput = z.input<typeof configSchema>;
