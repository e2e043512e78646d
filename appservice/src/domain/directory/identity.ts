import { attributeOf, type DirectoryPerson } from "./model.js";

const PLACEHOLDER = /\{([a-zA-Z0-9_.-]+)\}/g;
const LOCALPART = /^[a-z0-9._=\-/+]+$/;

/**
 * Directory person -> Matrix user ID, by a template matching how the trust's Synapse logs people
 * in: `{username}` (sAMAccountName, uid, SCIM userName without any @domain), `{mail.localpart}`,
 * or `{attr.<name>}`. Lower-cased; a result that is not a valid localpart maps to nobody.
 */
export class IdentityTemplate {
  constructor(
    private readonly template: string,
    private readonly serverName: string,
  ) {
    const unknown = [...template.matchAll(PLACEHOLDER)].map((match) => match[1] as string).filter((name) => !IdentityTemplate.known(name));
    if (unknown.length > 0) throw new Error(`unknown placeholder(s) in identity template: ${unknown.join(", ")}`);
  }

  private static known(name: string): boolean {
    return name === "username" || name === "mail.localpart" || name.startsWith("attr.");
  }

  localpart(person: DirectoryPerson): string | null {
    let missing = false;
    const value = this.template.replace(PLACEHOLDER, (_, name: string) => {
      const part = IdentityTemplate.value(person, name);
      if (!part) missing = true;
      return part ?? "";
    });
    const localpart = value.trim().toLowerCase();
    return !missing && LOCALPART.test(localpart) ? localpart : null;
  }

  userId(person: DirectoryPerson): string | null {
    const localpart = this.localpart(person);
    return localpart === null ? null : `@${localpart}:${this.serverName}`;
  }

  private static value(person: DirectoryPerson, name: string): string | null {
    if (name === "username") return person.username.split("@")[0] || null;
    if (name === "mail.localpart") return person.mail?.split("@")[0] || null;
    return attributeOf(person.attributes, name.slice("attr.".length)) || null;
  }
}
