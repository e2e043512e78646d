import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Coding } from "@medplum/fhirtypes";
import type { Capability, CapabilityFactory, Platform } from "../capability.js";
import { defaultConfirmation, type RecordsConfig, recordsDefaults } from "../config/records.js";
import { FilingAttempts } from "../domain/records/filing-attempts.js";
import { FilingComposer } from "../domain/records/filing-composer.js";
import { FilingRequests } from "../domain/records/filing-requests.js";
import type { PatientDirectory } from "../domain/records/patient.js";
import { PatientLinking } from "../domain/records/patient-linking.js";
import { keyedNhsNumberHash, PatientLookupGate } from "../domain/records/patient-lookup-gate.js";
import type { RecordDestination } from "../domain/records/record-destination.js";
import { RECORDS_COMMANDS, RecordsCommands } from "../domain/records/records-commands.js";
import { DecryptingConversationReader } from "../e2ee/decrypting-conversation-reader.js";
import { ClientServerConversationReader } from "../matrix/conversation-reader.js";
import { PostgresOperationalCounts } from "../storage/operational-counts.js";
import { PostgresFilingStore } from "../storage/records-filing-store.js";
import { PostgresPatientLookupLog } from "../storage/records-lookup-store.js";
import { PostgresPatientLinkStore } from "../storage/records-patient-store.js";
import { bearerToken, type FhirAuthorizer, FhirServerDestination, noAuthorization } from "./fhir-destination.js";
import { FileDropDestination } from "./file-drop-destination.js";
import { recordsHandlers } from "./handlers.js";
import { registerRecordsMetrics } from "./metrics.js";
import { SmartBackendAuth } from "./smart-backend-auth.js";
import { PdfKitTranscriptRenderer } from "./transcript-pdf.js";
import { UkCoreProfileValidator } from "./uk-core/profile-validator.js";

const RETRY_JOB = "records.retry-filings";
/** Confirmation codes: no 0/O or 1/I, so they survive being read out. */
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

function codings(list: RecordsConfig["documentType"] | undefined): Coding[] {
  return (list ?? []).map(({ system, code, display }) => ({ system, code, ...(display ? { display } : {}) }));
}

function confirmCode(): string {
  return [...randomBytes(6)].map((byte) => CODE_ALPHABET[byte % CODE_ALPHABET.length]).join("");
}

function fhirDestination(config: RecordsConfig): FhirServerDestination | null {
  const fhir = config.fhir;
  if (config.destination !== "fhir" || !fhir) return null;
  const timeoutMs = fhir.timeout;
  let auth: FhirAuthorizer = noAuthorization;
  if (fhir.auth === "bearer" && fhir.bearerToken) auth = bearerToken(fhir.bearerToken);
  if (fhir.auth === "client-credentials") {
    // The config schema requires these for client-credentials.
    auth = new SmartBackendAuth({
      tokenUrl: fhir.tokenUrl as string,
      clientId: fhir.clientId as string,
      privateKeyPem: readFileSync(fhir.privateKeyFile as string, "utf8"),
      keyId: fhir.keyId as string,
      algorithm: fhir.signingAlgorithm,
      scope: fhir.scope,
      timeoutMs,
    });
  }
  return new FhirServerDestination(fhir.baseUrl, auth, timeoutMs);
}

/** EHR filing (issue 5): patient links, `!handover patient|file|confirm`, filing with retries. */
export const recordsCapability: CapabilityFactory = (platform: Platform): Capability => {
  const config: RecordsConfig | undefined = platform.config.records;
  const settings = config ?? recordsDefaults();
  const timeZone = settings.timeZone;
  const timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
  const formatTime = (at: Date) => timeFormat.format(at);
  const filings = new PostgresFilingStore(platform.db);
  const links = new PostgresPatientLinkStore(platform.db);
  const fhir = config ? fhirDestination(config) : null;
  const destination: RecordDestination | null = registerRecordsMetrics(
    platform.metrics.registry,
    new PostgresOperationalCounts(platform.db),
    fhir ?? (config?.destination === "file-drop" && config.fileDropDirectory ? new FileDropDestination(config.fileDropDirectory) : null),
  );
  const directory: PatientDirectory | null = fhir && config?.fhir?.patientSearch ? fhir : null;
  const profileValidator = new UkCoreProfileValidator();
  const plainReader = new ClientServerConversationReader(platform.bot);
  const composer = new FilingComposer({
    // Encrypted rooms are read through the bot's device when `e2ee` is configured, refused otherwise.
    reader: platform.decryptor ? new DecryptingConversationReader(plainReader, platform.decryptor) : plainReader,
    renderer: new PdfKitTranscriptRenderer(),
    profile: profileValidator,
    clock: platform.clock,
    botUserId: platform.botUserId,
    identifierSystem: config?.identifierSystem ?? `https://${platform.config.homeserver.serverName.replace(/:\d+$/, "")}/Id/handover-export`,
    codes: { type: codings(config?.documentType), category: codings(config?.documentCategory) },
    custodianOdsCode: config?.custodianOdsCode ?? null,
    timeZone,
    maxImageBytes: settings.maxImageBytes,
    maxAttachmentBytes: settings.maxAttachmentBytes,
    filedElsewhere: (roomId, exceptExportId) => filings.eventsFiledElsewhere(roomId, exceptExportId),
  });
  const requests = new FilingRequests({
    filings,
    patients: links,
    ledger: platform.filings,
    preview: (roomId, threadRootId, afterEventId) => composer.preview(roomId, threadRootId, afterEventId),
    audit: platform.audit,
    clock: platform.clock,
    newExportId: () => randomUUID(),
    newConfirmCode: confirmCode,
    confirmationTtlMs: settings.confirmationTtl,
    destinationConfigured: destination !== null,
    roomConfirmation: { policy: config?.patientLookup.confirmation ?? defaultConfirmation(), localServer: platform.config.homeserver.serverName },
  });
  const attempts = new FilingAttempts({
    filings,
    compose: (filing) => composer.compose(filing),
    validateStored: (document) => profileValidator.validate(JSON.parse(document.bundleJson)),
    destination,
    ledger: platform.filings,
    notifier: platform.bot,
    audit: platform.audit,
    clock: platform.clock,
    retry: {
      initialDelayMs: settings.retryInitialDelay,
      maxDelayMs: settings.retryMaxDelay,
      maxAttempts: settings.maxAttempts,
      leaseMs: settings.attemptLease,
    },
    formatTime,
  });
  const lookupConfig = config?.patientLookup;
  const gate = lookupConfig
    ? new PatientLookupGate({
        localServer: platform.config.homeserver.serverName,
        rooms: platform.rooms,
        log: new PostgresPatientLookupLog(platform.db),
        audit: platform.audit,
        clock: platform.clock,
        hashNhsNumber: keyedNhsNumberHash(lookupConfig.auditKey),
        limit: { maxLookups: lookupConfig.maxLookups, windowMs: lookupConfig.window },
      })
    : null;
  const linking = new PatientLinking({ links, directory, gate, audit: platform.audit, clock: platform.clock });
  const commands = new RecordsCommands({
    botUserId: platform.botUserId,
    notifier: platform.bot,
    members: {
      membership: async (roomId, userId) => {
        const state = await platform.bot.stateContent(roomId, "m.room.member", userId);
        return typeof state?.membership === "string" ? state.membership : null;
      },
    },
    linking,
    links,
    requests,
    attempt: (exportId) => attempts.attempt(exportId),
    formatTime,
    confirmationTtlMinutes: Math.round(settings.confirmationTtl / 60_000),
  });
  return {
    name: "records",
    commands: RECORDS_COMMANDS,
    onEvent: (event) => commands.handle(event),
    handlers: recordsHandlers({ filings, requests, attempts, links, linking, lookups: gate, rooms: platform.rooms, audit: platform.audit }),
    async start() {
      if (destination) profileValidator.prepare();
      platform.jobs.register({ name: RETRY_JOB, intervalMs: settings.retryEvery, runAtStart: true }, async () => {
        await attempts.attemptDue();
      });
    },
  };
};
