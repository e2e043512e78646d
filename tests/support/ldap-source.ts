import type { HandoverConfigInput } from "../../appservice/src/config/schema.js";
import type { SlapdServer } from "../harness/slapd.js";

type LdapSource = NonNullable<NonNullable<HandoverConfigInput["directory"]>["ldap"]>[number];

/**
 * A `directory.ldap` entry for a test's own people on the real slapd: those whose uid ends in
 * the test's tag, groups of names, titles read, `employeeType=disabled` marking a leaver.
 */
export function ldapSource(slapd: SlapdServer, tag: string, overrides: Partial<LdapSource> = {}): LdapSource {
  return {
    name: "ad",
    url: slapd.url,
    bindDn: slapd.bindDn,
    bindPassword: slapd.bindPassword,
    userBase: `ou=people,${slapd.baseDn}`,
    userFilter: `(&(objectClass=inetOrgPerson)(uid=*${tag}))`,
    groupBase: `ou=groups,${slapd.baseDn}`,
    groupFilter: "(objectClass=groupOfNames)",
    usernameAttribute: "uid",
    attributes: ["title"],
    disabled: { attribute: "employeeType", mode: "equals", value: "disabled" },
    ...overrides,
  };
}
