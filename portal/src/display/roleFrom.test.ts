import { describe, expect, it } from "vitest";
import { describeRoleFrom } from "./roleFrom";

describe("describeRoleFrom", () => {
  it("names the config or the directory group and its source", () => {
    expect(describeRoleFrom({ kind: "config" })).toBe("Handover's configuration (access.roles)");
    expect(describeRoleFrom({ kind: "group", group: "Information Governance", source: "entra" })).toBe(
      'the directory group "Information Governance" (directory source entra, access.roleGroups)',
    );
  });
});
