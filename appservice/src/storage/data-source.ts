import { DataSource } from "typeorm";
import { Initial1732280000000 } from "./migrations/1732280000000-initial.js";
import { FiledRanges1732280000001 } from "./migrations/1732280000001-filed-ranges.js";
import { Retention1732280001000 } from "./migrations/1732280001000-retention.js";
import { Directory1732280002000 } from "./migrations/1732280002000-directory.js";
import { DirectorySources1732280002100 } from "./migrations/1732280002100-directory-sources.js";
import { Records1732280003000 } from "./migrations/1732280003000-records.js";
import { RecordsVerificationEvents1732280003100 } from "./migrations/1732280003100-records-verification-events.js";
import { Federation1732280004000 } from "./migrations/1732280004000-federation.js";
import { E2ee1732280005000 } from "./migrations/1732280005000-e2ee.js";
import { E2eeDeviceStore1732280005100 } from "./migrations/1732280005100-e2ee-device-store.js";
import { FiledCaptured1733401000000 } from "./migrations/1733401000000-filed-captured.js";
import { RetentionPurgeSafety1733402000000 } from "./migrations/1733402000000-retention-purge-safety.js";
import { PatientLookups1733403000000 } from "./migrations/1733403000000-patient-lookups.js";
import { FederationExpectedPartners1733406000000 } from "./migrations/1733406000000-federation-expected-partners.js";
import { AuditRuntimeGrants1733408000000 } from "./migrations/1733408000000-audit-runtime-grants.js";
import { Devices1733410000000 } from "./migrations/1733410000000-devices.js";
import { DeviceWatch1733420000000 } from "./migrations/1733420000000-device-watch.js";
import { RetentionPurgeSlices1733424000000 } from "./migrations/1733424000000-retention-purge-slices.js";

/** In order. A capability adds its own migration file and one entry here. */
export const MIGRATIONS = [
  Initial1732280000000,
  FiledRanges1732280000001,
  Retention1732280001000,
  Directory1732280002000,
  DirectorySources1732280002100,
  Records1732280003000,
  RecordsVerificationEvents1732280003100,
  Federation1732280004000,
  E2ee1732280005000,
  E2eeDeviceStore1732280005100,
  FiledCaptured1733401000000,
  RetentionPurgeSafety1733402000000,
  PatientLookups1733403000000,
  FederationExpectedPartners1733406000000,
  AuditRuntimeGrants1733408000000,
  Devices1733410000000,
  DeviceWatch1733420000000,
  RetentionPurgeSlices1733424000000,
];

/** Schema changes only through migrations: `synchronize` stays off everywhere. */
export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: "postgres",
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: "schema_migrations",
    extra: { max: poolSize, application_name: "handover" },
    logging: false,
  });
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: "each" });
  return applied.map((migration) => migration.name);
}
