import { Handover } from "../../appservice/src/app.js";
import { parseConfig } from "../../appservice/src/config/load.js";
import type { HandoverConfig, HandoverConfigInput } from "../../appservice/src/config/schema.js";
import type { Role } from "../../appservice/src/http/contract.js";
import { createLogger } from "../../appservice/src/logger.js";
import { readRegistrationTokens } from "../../appservice/src/matrix/registration-file.js";
import { createDataSource, migrate } from "../../appservice/src/storage/data-source.js";
import type { TrustInfo } from "../harness/stack.js";
import { freePort } from "../harness/util.js";

type PatientLookupInput = NonNullable<HandoverConfigInput["records"]>["patientLookup"];
type RecordsInput = Omit<NonNullable<HandoverConfigInput["records"]>, "patientLookup"> & {
  patientLookup?: Omit<PatientLookupInput, "auditKey"> & { auditKey?: string };
};

/** The lookup audit key of every trust in the tests that does not set its own (32+ bytes). */
export const TEST_LOOKUP_AUDIT_KEY = "test-only-patient-lookup-audit-key-0123456789";

export interface InstanceOptions {
  roles?: Record<string, Role>;
  portalDir?: string;
  webPort?: number;
  logLevel?: HandoverConfig["logging"]["level"];
  /** The `federation` config section (absent: federation off). */
  federation?: HandoverConfigInput["federation"];
  /** The `retention` config section (absent: retention off). */
  retention?: HandoverConfigInput["retention"];
  /** The `directory` config section (absent: directory sync off). */
  directory?: HandoverConfigInput["directory"];
  /** The `records` config section (absent: EHR filing off); `patientLookup` defaults to a test key. */
  records?: RecordsInput;
  /** The `e2ee` config section (absent: encrypted rooms refused). */
  e2ee?: HandoverConfigInput["e2ee"];
  /** The `audit` section (absent: no anchors outside the database). */
  audit?: HandoverConfigInput["audit"];
  /** The `devices` section (absent: the defaults). */
  devices?: HandoverConfigInput["devices"];
  /** `web.metricsToken` (absent: /metrics is open). */
  metricsToken?: string;
}

/** A Handover config for one trust of a running stack. */
export async function configFor(trust: TrustInfo, databaseUrl: string, options: InstanceOptions = {}): Promise<HandoverConfig> {
  const webPort = options.webPort ?? (await freePort());
  return parseConfig({
    homeserver: { serverName: trust.serverName, url: trust.clientUrl, adminAccessToken: trust.admin.accessToken },
    appservice: {
      id: trust.registration.id,
      botLocalpart: trust.registration.sender_localpart,
      port: trust.appservicePort,
      url: trust.registration.url,
      registrationFile: trust.registrationPath,
    },
    database: { url: databaseUrl, poolSize: 5 },
    web: {
      port: webPort,
      publicUrl: `http://127.0.0.1:${webPort}`,
      ...(options.portalDir ? { portalDir: options.portalDir } : {}),
      ...(options.metricsToken ? { metricsToken: options.metricsToken } : {}),
    },
    access: { roles: options.roles ?? {} },
    ...(options.federation ? { federation: options.federation } : {}),
    ...(options.retention ? { retention: options.retention } : {}),
    ...(options.directory ? { directory: options.directory } : {}),
    ...(options.records ? { records: { ...options.records, patientLookup: { auditKey: TEST_LOOKUP_AUDIT_KEY, ...options.records.patientLookup } } } : {}),
    ...(options.e2ee ? { e2ee: options.e2ee } : {}),
    ...(options.audit ? { audit: options.audit } : {}),
    // The push probe (issue 14) makes an account and a room on the homeserver at start: only the
    // tests that test it turn it on.
    devices: { ...options.devices, pushProbe: options.devices?.pushProbe ?? { enabled: false } },
    logging: { level: options.logLevel ?? (process.env.HANDOVER_LOG_LEVEL as HandoverConfig["logging"]["level"] | undefined) ?? "warn" },
  });
}

export async function migrateDatabase(url: string): Promise<void> {
  const db = createDataSource(url, 1);
  await db.initialize();
  try {
    await migrate(db);
  } finally {
    await db.destroy();
  }
}

/** Migrates the trust's database and starts a real Handover (both listeners) for it. */
export async function startHandover(trust: TrustInfo, databaseUrl: string, options: InstanceOptions = {}): Promise<Handover> {
  const config = await configFor(trust, databaseUrl, options);
  await migrateDatabase(databaseUrl);
  const handover = new Handover(config, await readRegistrationTokens(config.appservice.registrationFile), {
    logger: createLogger(config.logging.level, `handover-${trust.key}`),
  });
  await handover.start();
  return handover;
}
