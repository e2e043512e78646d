import { describe, expect, it } from "vitest";
import { ENTERPRISE_USER } from "./pushed-source.js";
import { patchGroup, patchUser, ScimPathRefused } from "./scim-patch.js";

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

  describe("refuses paths that reach object prototypes (issue 12.2)", () => {
    const user = () => ({ userName: "amy@trust.nhs.uk", active: true, name: { givenName: "Amy" }, emails: [{ type: "work", value: "a@t" }] });
    const refused = (operations: { op: string; path?: string; value?: unknown }[]) => {
      expect(() => patchUser(user(), operations)).toThrow(ScimPathRefused);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    };

    it.each([
      "__proto__.polluted",
      "name.__proto__.polluted",
      "constructor.prototype.polluted",
      "name.constructor.prototype.polluted",
      "prototype.polluted",
      `${ENTERPRISE_USER}:__proto__.polluted`,
      `${ENTERPRISE_USER}:constructor.prototype.polluted`,
    ])("in path segments: %s", (path) => {
      for (const op of ["add", "replace", "remove"]) refused([{ op, path, value: "yes" }]);
    });

    it.each([
      '__proto__[type eq "work"].polluted',
      'emails[__proto__ eq "work"].value',
      'emails[type eq "work"].__proto__',
      'emails[type eq "work"].constructor',
      'constructor[type eq "work"].prototype',
    ])("in filter value paths: %s", (path) => {
      refused([{ op: "replace", path, value: "yes" }]);
    });

    it("in the keys of a value without a path, however deep", () => {
      refused([{ op: "replace", value: JSON.parse('{"__proto__": {"polluted": "yes"}}') }]);
      refused([{ op: "add", value: { "name.__proto__.polluted": "yes" } }]);
      refused([{ op: "add", value: { "constructor.prototype.polluted": "yes" } }]);
      refused([{ op: "add", value: { [ENTERPRISE_USER]: JSON.parse('{"__proto__": {"polluted": "yes"}}') } }]);
      refused([{ op: "add", value: { name: JSON.parse('{"__proto__": {"polluted": "yes"}}') } }]);
      refused([{ op: "add", path: 'emails[type eq "work"]', value: JSON.parse('{"__proto__": {"polluted": "yes"}}') }]);
    });

    it("in group operations", () => {
      const group = { displayName: "Renal", memberIds: ["a"] };
      expect(() => patchGroup(group, [{ op: "add", value: JSON.parse('{"__proto__": {"polluted": "yes"}}') }])).toThrow(ScimPathRefused);
      expect(() => patchGroup(group, [{ op: "add", path: "__proto__.polluted", value: "yes" }])).toThrow(ScimPathRefused);
    });

    it("still accepts ordinary attribute names that merely contain the words", () => {
      expect(
        patchUser(user(), [
          { op: "add", path: "prototypeRole", value: "x" },
          { op: "add", path: "name.constructorName", value: "y" },
        ]),
      ).toMatchObject({
        prototypeRole: "x",
        name: { constructorName: "y" },
      });
    });
  });
});
