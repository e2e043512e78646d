import { describe, expect, it } from "vitest";
import { ENTERPRISE_USER } from "./pushed-source.js";
import { patchGroup, patchUser } from "./scim-patch.js";

describe("SCIM PATCH", () => {
  it("applies Entra's user operations: capitalised ops, string booleans, filtered and extension paths, no-path values", () => {
    const user = { userName: "amy@trust.nhs.uk", active: true, emails: [{ type: "work", value: "amy@trust.nhs.uk", primary: true }] };
    const patched = patchUser(user, [
      { op: "Replace", path: "active", value: "False" },
      { op: "Replace", path: 'emails[type eq "work"].value', value: "amy.jones@trust.nhs.uk" },
      { op: "Add", path: `${ENTERPRISE_USER}:department`, value: "Renal" },
      { op: "replace", value: { displayName: "Amy Jones", "name.givenName": "Amy" } },
      { op: "remove", path: "title" },
    ]);
    expect(patched).toMatchObject({
      active: false,
      displayName: "Amy Jones",
      name: { givenName: "Amy" },
      emails: [{ type: "work", value: "amy.jones@trust.nhs.uk", primary: true }],
      [ENTERPRISE_USER]: { department: "Renal" },
    });
    expect(user.active).toBe(true);
  });

  it("applies group member operations as Entra and Okta send them", () => {
    const group = { displayName: "Renal", memberIds: ["a"] };
    expect(patchGroup(group, [{ op: "Add", path: "members", value: [{ value: "b" }, { value: "c" }] }]).memberIds).toEqual(["a", "b", "c"]);
    expect(patchGroup(group, [{ op: "Remove", path: "members", value: [{ value: "a" }] }]).memberIds).toEqual([]);
    expect(patchGroup(group, [{ op: "remove", path: 'members[value eq "a"]' }]).memberIds).toEqual([]);
    expect(patchGroup(group, [{ op: "replace", value: { id: "g1", displayName: "Renal team" } }]).displayName).toBe("Renal team");
    expect(() => patchGroup(group, [{ op: "jump", path: "members" }])).toThrow(/Unknown PATCH op/);
  });
});
