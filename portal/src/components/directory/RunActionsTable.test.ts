// @vitest-environment happy-dom
import type { DirectoryAction } from "@handover/appservice/contract";
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import RunActionsTable from "./RunActionsTable.vue";

const kick = (outcome: DirectoryAction["outcome"], error: string | null): DirectoryAction => ({
  kind: "kick",
  roomId: "!ward7:trust.example",
  userId: "@amy:trust.example",
  why: "leaver",
  rules: [],
  sources: [],
  changes: [],
  outcome,
  error,
});

const outcomes = (actions: DirectoryAction[]) =>
  mount(RunActionsTable, { props: { actions, total: actions.length, caption: "Changes" } })
    .findAll("tbody tr")
    .map((row) => row.findAll("td").at(-1)?.text());

describe("a run's changes", () => {
  it("shows a change made on the homeserver whose audit entry could not be written as done, with what is missing", () => {
    expect(
      outcomes([kick("done", null), kick("done", "made, but its audit entry could not be written (connection refused)"), kick("failed", "M_FORBIDDEN")]),
    ).toEqual(["Done", "Done: made, but its audit entry could not be written (connection refused)", "Failed: M_FORBIDDEN"]);
  });
});
