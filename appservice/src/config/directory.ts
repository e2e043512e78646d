import { z } from "zod";
import { duration } from "./duration.js";
import { generatedSecret, issuedSecret, SECRET_PLACEHOLDERS } from "./secret.js";

/** The `directory` section of the config: directory sync (issue 4). Imported by schema.ts. */

const sourceName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: "expected a short lower-case name like ad or entra" });

const ldapSourceSchema = z
  .strictObject({
    name: sourceName.describe("Name of this source in runs, reasons and the audit trail."),
    url: z
      .string()
      .regex(/^ldaps?:\/\//, { message: "expected an ldap:// or ldaps:// URL" })
      .describe("LDAP server URL.")
      .meta({ examples: ["ldaps://dc1.trust.nhs.uk"] }),
    bindDn: z.string().min(1).describe("DN (or user@domain for AD) Handover binds as: a read-only service account."),
    bindPassword: issuedSecret(SECRET_PLACEHOLDERS.bindPassword).describe("Password of the bind account. Prefer an environment variable."),
    userBase: z
      .string()
      .min(1)
      .describe("Where people are searched.")
      .meta({ examples: ["OU=Staff,DC=trust,DC=nhs,DC=uk"] }),
    userFilter: z.string().default("(objectClass=person)").describe("LDAP filter for people."),
    groupBase: z
      .string()
      .min(1)
      .describe("Where groups are searched.")
      .meta({ examples: ["OU=Groups,DC=trust,DC=nhs,DC=uk"] }),
    groupFilter: z.string().default("(|(objectClass=group)(objectClass=groupOfNames))").describe("LDAP filter for groups."),
    usernameAttribute: z.string().default("sAMAccountName").describe("Attribute holding the login name (sAMAccountName in AD, uid in OpenLDAP)."),
    mailAttribute: z.string().default("mail").describe("Attribute holding the email address."),
    attributes: z
      .array(z.string().min(1))
      .default(["title", "department", "employeeID", "employeeNumber"])
      .describe("Extra attributes read for rules, power levels and identity templates (ESR-derived attributes live here)."),
    disabled: z
      .strictObject({
        attribute: z.string().default("userAccountControl").describe("Attribute that says an account is disabled."),
        mode: z
          .enum(["ad-account-control", "equals"])
          .default("ad-account-control")
          .describe("ad-account-control: disabled when bit 0x2 is set; equals: disabled when the attribute equals `value`."),
        value: z.string().optional().describe("For mode equals: the value that means disabled (case-insensitive)."),
      })
      .default({ attribute: "userAccountControl", mode: "ad-account-control" })
      .describe("How a disabled account is recognised."),
    pageSize: z.number().int().min(1).max(5000).default(500).describe("Paged search page size (AD's MaxPageSize is 1000)."),
    timeout: duration().prefault("30s").describe("Time limit for each LDAP operation."),
    incremental: z
      .strictObject({
        marker: z
          .enum(["modifyTimestamp", "uSNChanged"])
          .describe("Change marker: modifyTimestamp (OpenLDAP and most servers) or uSNChanged (Active Directory; ask one domain controller).")
          .meta({ examples: ["uSNChanged"] }),
        fullEvery: duration().prefault("24h").describe("How often a full read runs anyway: deletions are only seen by a full read."),
      })
      .optional()
      .describe("Read only entries changed since the last run, merged into a copy of the directory kept in PostgreSQL. Unset: every run reads everything."),
  })
  .describe("An LDAP or Active Directory source.");

const scimSchema = z
  .strictObject({
    name: sourceName.default("scim").describe("Name of the SCIM source in runs, reasons and the audit trail."),
    bearerToken: generatedSecret(SECRET_PLACEHOLDERS.scimToken).describe(
      "Secret token Entra ID / Okta provisioning sends as `Authorization: Bearer`. Prefer an environment variable.",
    ),
    syncDelay: duration()
      .prefault("250ms")
      .describe(
        "A sync run starts once SCIM changes have been quiet this long: a burst of changes shares one run (one plan, one guard verdict). Identity providers send a provisioning cycle's requests back to back.",
      ),
    maxDelay: duration()
      .prefault("10s")
      .describe("If SCIM changes keep coming, the run starts this long after the first change it covers anyway (never sooner than syncDelay)."),
  })
  .describe("SCIM 2.0 endpoint at /scim/v2 on the web listener, for Entra ID or Okta provisioning. Unset: no endpoint.");

const csvSourceSchema = z
  .strictObject({
    name: sourceName.describe("Name of this CSV source in runs, reasons and the audit trail.").meta({ examples: ["esr"] }),
    watch: z
      .strictObject({
        path: z
          .string()
          .min(1)
          .describe("CSV file Handover reads; it is imported whenever its content changes.")
          .meta({ examples: ["/var/lib/handover/esr.csv"] }),
        interval: duration().prefault("5m").describe("How often the file is checked for new content."),
      })
      .optional()
      .describe("A watched file (e.g. where the nightly ESR extract lands). Unset: upload in the portal only."),
    columns: z
      .strictObject({
        id: z.string().min(1).default("Employee Number").describe("Header of the stable person id (ESR employee number)."),
        username: z
          .string()
          .min(1)
          .optional()
          .describe("Header of the login name the identity template uses ({username}); unset: the id.")
          .meta({ examples: ["Email Address"] }),
        mail: z
          .string()
          .min(1)
          .optional()
          .describe("Header of the email address ({mail.localpart}).")
          .meta({ examples: ["Email Address"] }),
        attributes: z
          .record(z.string().regex(/^[a-z0-9_.-]+$/, { message: "expected a lower-case attribute name" }), z.string().min(1))
          .default({
            employeenumber: "Employee Number",
            givenname: "First Name",
            familyname: "Last Name",
            title: "Position Title",
            occupationcode: "Occupation Code",
            areaofwork: "Area of Work",
            organisation: "Organisation",
          })
          .describe("Person attribute (for rules, power levels and identity templates) -> CSV header."),
        assignmentStart: z
          .string()
          .min(1)
          .nullable()
          .default("Assignment Start Date")
          .describe("Header of the assignment start date (null: none); assignments not yet started do not count."),
        assignmentEnd: z
          .string()
          .min(1)
          .nullable()
          .default("Assignment End Date")
          .describe("Header of the assignment end date (null: none); a person whose assignments have all ended is a leaver."),
      })
      .prefault({})
      .describe("Which CSV header feeds which person attribute (headers match case-insensitively). Defaults: ESR's fallback columns."),
    groups: z
      .array(z.string().min(1).max(200))
      .default(["{areaofwork}"])
      .describe("Group name templates over attributes: each person is in every group whose attributes they have. Rules name these groups.")
      .meta({ examples: [["{areaofwork}", "{areaofwork} {title}", "occupation {occupationcode}"]] }),
  })
  .describe("An ESR-style CSV source: uploaded in the portal and/or read from a watched file.");

export const directorySchema = z
  .strictObject({
    schedule: duration().prefault("5m").describe("How often directory sync runs."),
    identityTemplate: z
      .string()
      .default("{username}")
      .describe("Directory person -> Matrix localpart, matching how Synapse logs people in: {username}, {mail.localpart} or {attr.<name>}."),
    exempt: z
      .array(z.string().regex(/^@[^:]+:.+$/, { message: "expected a Matrix user ID" }))
      .default([])
      .describe("Users directory sync never removes, demotes or locks (bots, break-glass accounts). Handover's own bot is always exempt."),
    maxRemovalShare: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe(
        "A run removing more than this share of managed memberships, or logging out, locking or deactivating more than this share of people, is held for approval.",
      ),
    maxRemovals: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe("A run removing more than this many memberships, or logging out, locking or deactivating more than this many people, is held for approval."),
    removalWindow: z
      // "off" is a window of nothing: each run counts alone.
      .union([z.literal("off").transform(() => 0), duration()], { error: "expected off, or a duration such as 24h or 7d" })
      .prefault("24h")
      .describe(
        "Removals by runs in this window (not approved ones) count with each new run's, so small runs cannot add up to a mass removal; off to count each run alone.",
      ),
    writesPerSecond: z.number().positive().max(1000).default(100).describe("Homeserver writes per second at most."),
    writeConcurrency: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe(
        "Homeserver writes in flight at most (rooms side by side); the number in flight adapts below it to the homeserver's answers (halved on a slow answer, a rate limit or a 5xx).",
      ),
    leavers: z
      .strictObject({
        endSessions: z.boolean().default(true).describe("Log out every device of a leaver at once."),
        action: z.enum(["lock", "deactivate", "none"]).default("lock").describe("What happens to a leaver's account after the grace period."),
        grace: duration().prefault("7d").describe("Time between leaving and the account being locked or deactivated."),
      })
      .prefault({})
      .describe("Leavers: people disabled in, or gone from, the directory."),
    ldap: z
      .array(ldapSourceSchema)
      .prefault([])
      .describe("LDAP / Active Directory sources.")
      .meta({
        examples: [
          [
            {
              name: "ad",
              url: "ldaps://dc1.trust.nhs.uk",
              bindDn: "svc-handover@trust.nhs.uk",
              bindPassword: "from-an-environment-variable",
              userBase: "OU=Staff,DC=trust,DC=nhs,DC=uk",
              userFilter: "(&(objectCategory=person)(objectClass=user))",
              groupBase: "OU=Groups,DC=trust,DC=nhs,DC=uk",
              groupFilter: "(objectClass=group)",
              usernameAttribute: "sAMAccountName",
              attributes: ["title", "department", "employeeID"],
              disabled: { attribute: "userAccountControl", mode: "ad-account-control" },
              incremental: { marker: "uSNChanged", fullEvery: "24h" },
            },
          ],
        ],
      }),
    scim: scimSchema.optional(),
    csv: z
      .array(csvSourceSchema)
      .prefault([])
      .describe("ESR-style CSV sources (portal upload, watched file).")
      .meta({
        examples: [
          [
            {
              name: "esr",
              watch: { path: "/var/lib/handover/esr.csv", interval: "5m" },
              columns: {
                id: "Employee Number",
                username: "Email Address",
                mail: "Email Address",
                attributes: { title: "Position Title", occupationcode: "Occupation Code", areaofwork: "Area of Work", organisation: "Organisation" },
                assignmentStart: "Assignment Start Date",
                assignmentEnd: "Assignment End Date",
              },
              groups: ["{areaofwork}", "{areaofwork} {title}"],
            },
          ],
        ],
      }),
  })
  .describe("Directory sync: room membership follows the staff directory. Off until a source is configured.");

export type DirectoryConfig = z.infer<typeof directorySchema>;
export type LdapSourceConfig = z.infer<typeof ldapSourceSchema>;
export type CsvSourceConfig = z.infer<typeof csvSourceSchema>;
