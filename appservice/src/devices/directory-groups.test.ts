import { describe, expect, it } from "vitest";
import { directoryGroupsWhenSynced } from "./directory-groups.js";

describe("directory groups for devices", () => {
  it("refuses a group with a clear error when no directory is synced, and asks directory sync when one is", async () => {
    await expect(directoryGroupsWhenSynced(() => null).membersOf("ward 7 nurses")).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    const synced = directoryGroupsWhenSynced(() => ({ membersOf: async (group) => new Set(group === "ward 7 nurses" ? ["@amy:t"] : []) }));
    expect([...(await synced.membersOf("ward 7 nurses"))]).toEqual(["@amy:t"]);
  });
});
