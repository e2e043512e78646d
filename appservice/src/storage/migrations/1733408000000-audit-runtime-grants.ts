import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Where Handover runs with a runtime role separate from the schema's owner (docker-compose:
 * deploy/postgres/init), that role gets row rights on every table by default. On audit_log it
 * may only append and read: UPDATE, DELETE and the rest are taken from every role but the
 * table's owner. With one role for everything (the owner) this changes nothing.
 */
export class AuditRuntimeGrants1733408000000 implements MigrationInterface {
  name = "AuditRuntimeGrants1733408000000";

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      DO $$
      DECLARE
        holder regrole;
      BEGIN
        FOR holder IN
          SELECT DISTINCT acl.grantee::regrole
          FROM pg_class table_class, aclexplode(table_class.relacl) acl
          WHERE table_class.oid = 'audit_log'::regclass
            AND acl.grantee <> table_class.relowner
            AND acl.grantee <> 0
            AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES')
        LOOP
          EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_log FROM %s', holder);
        END LOOP;
        REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_log FROM PUBLIC;
      END $$`);
  }

  async down(): Promise<void> {
    // Nothing to give back: the grants taken were never Handover's to need.
  }
}
