import { z } from "zod";
import { duration } from "./duration.js";
import { generatedSecret } from "./secret.js";

/** The `records` section of the config: EHR filing (issue 5). Imported by schema.ts. */

const codingSchema = z.strictObject({
  system: z.url(),
  code: z.string().min(1),
  display: z.string().min(1).optional(),
});

const DEFAULT_TYPE = [
  { system: "http://snomed.info/sct", code: "371531000", display: "Report of clinical encounter" },
  { system: "http://loinc.org", code: "34109-9", display: "Note" },
];
const DEFAULT_CATEGORY = [{ system: "http://snomed.info/sct", code: "419891008", display: "Record artifact" }];

const fhirSchema = z
  .strictObject({
    baseUrl: z
      .url()
      .describe("FHIR R4 base URL of the trust's record system.")
      .meta({ examples: ["https://epr.trust.nhs.uk/fhir/R4"] }),
    auth: z.enum(["none", "bearer", "client-credentials"]).default("none").describe("How Handover authenticates to the FHIR server."),
    bearerToken: z.string().min(1).optional().describe("Static token for auth: bearer. Env: HANDOVER__RECORDS__FHIR__BEARER_TOKEN."),
    tokenUrl: z
      .url()
      .optional()
      .describe("OAuth2 token endpoint for auth: client-credentials (SMART Backend Services).")
      .meta({ examples: ["https://epr.trust.nhs.uk/oauth2/token"] }),
    clientId: z.string().min(1).optional().describe("Client id registered with the record system for auth: client-credentials."),
    privateKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM private key that signs the JWT client assertion (auth: client-credentials).")
      .meta({ examples: ["/secrets/handover-fhir-key.pem"] }),
    keyId: z.string().min(1).optional().describe("kid of that key in the JWK set the record system knows."),
    signingAlgorithm: z.enum(["RS384", "ES384"]).default("RS384").describe("JWT signing algorithm (SMART Backend Services allow RS384 and ES384)."),
    scope: z
      .string()
      .default("system/DocumentReference.write system/Communication.write system/Patient.read")
      .describe("Scopes asked for with client credentials."),
    timeout: duration().prefault("30s").describe("How long one request to the record system may take."),
    patientSearch: z.boolean().default(true).describe("Look patients up (Patient?identifier=NHS number) to show name and date of birth when a room is linked."),
  })
  .describe("The FHIR server filings go to (destination: fhir).");

/** Who may confirm a filing asked for with `!handover file` (docs/records.md, "Who confirms"). */
export const CONFIRMATION_POLICIES = ["requester-if-traced", "another-member", "any-member"] as const;

const patientLookupSchema = z
  .strictObject({
    auditKey: generatedSecret().describe(
      "Secret HMAC-SHA-256 key for the keyed hash of NHS numbers in the lookup audit trail, so an IG lead can ask who looked a patient up without the trail holding the number. At least 32 bytes; generate with `openssl rand -base64 48`; changing it makes earlier hashes unmatchable. Env: HANDOVER__RECORDS__PATIENT_LOOKUP__AUDIT_KEY.",
    ),
    maxLookups: z
      .number()
      .int()
      .min(1)
      .default(30)
      .describe("Patient lookups (!handover patient <number>, or the portal's link form) one person may make per window."),
    window: duration().prefault("1h").describe("The rolling window maxLookups counts over."),
    confirmation: z
      .enum(CONFIRMATION_POLICIES)
      .default("requester-if-traced")
      .describe(
        "Who confirms a filing in the room: requester-if-traced (the person who asked may confirm only when the number was found in the record and the name and date of birth were shown; otherwise another member), another-member (never the person who asked), any-member.",
      ),
  })
  .describe("Patient lookups: who may link a patient and how often, and who confirms a filing. Only local users, only in clinical rooms.");

const recordsFields = z.strictObject({
  patientLookup: patientLookupSchema,
  destination: z
    .enum(["none", "fhir", "file-drop"])
    .default("none")
    .describe("Where filings go: a FHIR R4 server, a directory the record system imports from, or nowhere (filing off)."),
  fhir: fhirSchema.optional(),
  fileDropDirectory: z
    .string()
    .min(1)
    .optional()
    .describe("Directory filings are written to (destination: file-drop).")
    .meta({ examples: ["/var/spool/epr-import"] }),
  identifierSystem: z
    .url()
    .optional()
    .describe("Identifier system of Handover's export ids (DocumentReference.identifier); defaults to https://<serverName>/Id/handover-export.")
    .meta({ examples: ["https://fhir.trust.nhs.uk/Id/handover-export"] }),
  custodianOdsCode: z
    .string()
    .regex(/^[A-Z0-9]{3,10}$/, { message: "expected an ODS code like RXX" })
    .optional()
    .describe("The trust's ODS code, filed as DocumentReference.custodian.")
    .meta({ examples: ["RXX"] }),
  documentType: z
    .array(codingSchema)
    .min(1)
    .default(DEFAULT_TYPE)
    .describe("DocumentReference.type codings (UK Core binds type to SNOMED CT; a LOINC coding may follow)."),
  documentCategory: z.array(codingSchema).min(1).default(DEFAULT_CATEGORY).describe("DocumentReference.category codings."),
  timeZone: z
    .string()
    .default("Europe/London")
    .refine((zone) => Intl.supportedValuesOf("timeZone").includes(zone) || zone === "UTC", { message: "expected an IANA time zone like Europe/London" })
    .describe("Time zone of times in transcripts and room notices."),
  confirmationTtl: duration().prefault("15m").describe("How long a described filing waits for a room member's confirmation."),
  maxImageBytes: z.number().int().positive().default(10_000_000).describe("Largest image embedded in a transcript."),
  maxAttachmentBytes: z
    .number()
    .int()
    .positive()
    .default(10_485_760)
    .describe(
      "Largest file, audio or video embedded in the transcript PDF and the DocumentReference. Larger ones are named as not captured and retention keeps them as unfiled.",
    ),
  retryEvery: duration().prefault("30s").describe("How often filings whose next attempt is due are sent again."),
  retryInitialDelay: duration().prefault("1m").describe("Wait after the first failure; doubles after each further failure."),
  retryMaxDelay: duration().prefault("1h").describe("Longest wait between attempts."),
  maxAttempts: z.number().int().min(1).default(24).describe("Attempts before a filing is marked failed (it can still be retried from the portal)."),
  attemptLease: duration().prefault("5m").describe("How long an attempt may hold a filing before another may take it over (after a crash)."),
});

export const recordsSchema = recordsFields
  .superRefine((records, context) => {
    const need = (condition: boolean, path: (string | number)[], message: string) => {
      if (!condition) context.addIssue({ code: "custom", path, message });
    };
    if (records.destination === "fhir") {
      need(records.fhir !== undefined, ["fhir"], "required when destination is fhir");
      const fhir = records.fhir;
      if (fhir?.auth === "bearer") need(fhir.bearerToken !== undefined, ["fhir", "bearerToken"], "required when auth is bearer");
      if (fhir?.auth === "client-credentials") {
        for (const key of ["tokenUrl", "clientId", "privateKeyFile", "keyId"] as const)
          need(fhir[key] !== undefined, ["fhir", key], "required when auth is client-credentials");
      }
    }
    if (records.destination === "file-drop") need(records.fileDropDirectory !== undefined, ["fileDropDirectory"], "required when destination is file-drop");
  })
  .describe("EHR filing: conversations filed into the patient record as FHIR R4 (UK Core). Leave out to run without filing.");

export type RecordsConfig = z.infer<typeof recordsSchema>;

/** What filing runs with when the `records` section is left out: the schema's defaults, with no destination and no lookups. */
export const recordsDefaults = (): Omit<RecordsConfig, "patientLookup"> => recordsFields.omit({ patientLookup: true }).parse({});

/** Who confirms a filing when no `records.patientLookup` is configured: the schema's default. */
export const defaultConfirmation = () => patientLookupSchema.shape.confirmation.parse(undefined);
