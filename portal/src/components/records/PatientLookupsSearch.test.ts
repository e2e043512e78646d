// @vitest-environment happy-dom
import { flushPromises, mount } from "@vue/test-utils";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/http";
import PatientLookupsSearch from "./PatientLookupsSearch.vue";

const fakeRecordsApi = vi.hoisted(() => ({ searchPatientLookups: vi.fn() }));
vi.mock("../../api/records", () => fakeRecordsApi);

describe("PatientLookupsSearch", () => {
  beforeEach(() => vi.resetAllMocks());

  it("asks who looked up a number and lists each lookup with its outcome", async () => {
    fakeRecordsApi.searchPatientLookups.mockResolvedValue({
      nhsNumberHash: "ab".repeat(32),
      lookups: [
        {
          actor: "@bea:trust-b.example",
          roomId: "!w:trust.example",
          roomName: "Ward 4",
          threadRootId: null,
          outcome: "refused-not-local",
          via: "command",
          at: "2026-12-05T10:00:00Z",
        },
        {
          actor: "@bob:trust.example",
          roomId: "!w:trust.example",
          roomName: "Ward 4",
          threadRootId: null,
          outcome: "found",
          via: "command",
          at: "2026-12-05T09:00:00Z",
        },
      ],
    });
    const wrapper = mount(PatientLookupsSearch);
    await wrapper.get("#lookup-nhs-number").setValue("943 476 5919");
    await wrapper.get("form").trigger("submit");
    await flushPromises();

    expect(fakeRecordsApi.searchPatientLookups).toHaveBeenCalledWith("943 476 5919");
    const rows = wrapper.findAll("tbody tr").map((row) => row.findAll("td").map((cell) => cell.text()));
    expect(rows.map((cells) => cells.slice(0, 3))).toEqual([
      ["@bea:trust-b.example", "Ward 4", "Refused: not this trust's user"],
      ["@bob:trust.example", "Ward 4", "Found in the record"],
    ]);
  });

  it("shows a bad number next to the field", async () => {
    fakeRecordsApi.searchPatientLookups.mockRejectedValue(
      new ApiError(400, "VALIDATION_FAILED", "The check digit does not match", [{ path: "nhsNumber", message: "The check digit does not match" }]),
    );
    const wrapper = mount(PatientLookupsSearch);
    await wrapper.get("#lookup-nhs-number").setValue("943 476 5918");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(wrapper.text()).toContain("The check digit does not match");
    expect(wrapper.find("table").exists()).toBe(false);
  });
});
