import { describe, expect, it } from "vitest";
import { configuredRole } from "./roles.js";

describe("portal roles from access.roles (issue 12.2)", () => {
  const access = { roles: { "@alice:trust.test": "admin" as const }, sessionTtl: "8h" };

  it("gives the configured role and nothing for anyone else, even names Object.prototype has", () => {
    expect(configuredRole(access, "@alice:trust.test")).toBe("admin");
    for (const userId of ["@bob:trust.test", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(configuredRole(access, userId)).toBeUndefined();
    }
  });

  it("ignores an entry inherited from a polluted Object.prototype", () => {
    const prototype = Object.prototype as Record<string, unknown>;
    prototype["@mallory:trust.test"] = "admin";
    try {
      expect(configuredRole(access, "@mallory:trust.test")).toBeUndefined();
    } finally {
      delete prototype["@mallory:trust.test"];
    }
  });
});
