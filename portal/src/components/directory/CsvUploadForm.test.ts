// @vitest-environment happy-dom
import type { CsvImportResult } from "@handover/appservice/contract";
import { flushPromises, mount } from "@vue/test-utils";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/http";
import CsvUploadForm from "./CsvUploadForm.vue";

const fakeDirectoryApi = vi.hoisted(() => ({ importCsv: vi.fn() }));
vi.mock("../../api/directory", () => fakeDirectoryApi);

const CSV = "Employee Number,Login,Area of Work\r\n1001,amy,Ward 7\r\n";

function preview(): CsvImportResult {
  return {
    import: { source: "esr", rows: 1, people: 1, groups: 1, leavers: 0, notStarted: 0, stored: false },
    run: {
      id: null,
      trigger: "csv",
      actor: "@admin:trust.example",
      status: "dry-run",
      startedAt: null,
      finishedAt: null,
      reason: null,
      decidedBy: null,
      summary: {
        people: 1,
        rooms: 1,
        managedMemberships: 0,
        removals: 0,
        additions: 1,
        powerChanges: 0,
        leaverSteps: 0,
        unreadableRooms: [],
        unmapped: 0,
        applied: 0,
        failed: 0,
      },
      actions: [
        {
          kind: "force-join",
          roomId: "!ward7:trust.example",
          userId: "@amy:trust.example",
          why: null,
          rules: ["ward-7"],
          sources: ["esr"],
          changes: [],
          outcome: null,
          error: null,
        },
      ],
      actionsShown: 1,
      actionsTotal: 1,
    },
  };
}

async function render() {
  const wrapper = mount(CsvUploadForm, { props: { source: "esr", watching: "/var/lib/handover/esr.csv" }, attachTo: document.body });
  const input = wrapper.get("#csv-file-esr");
  Object.defineProperty(input.element, "files", { value: [new File([CSV], "esr.csv", { type: "text/csv" })] });
  await input.trigger("change");
  return wrapper;
}

describe("CsvUploadForm", () => {
  beforeEach(() => {
    vi.resetAllMocks();
    document.body.innerHTML = "";
  });

  it("labels the file input and previews the file as a dry-run diff", async () => {
    fakeDirectoryApi.importCsv.mockResolvedValue(preview());
    const wrapper = await render();
    expect(wrapper.get('label[for="csv-file-esr"]').text()).toBe("CSV file for esr");
    await wrapper.get("form").trigger("submit");
    await flushPromises();
    expect(fakeDirectoryApi.importCsv).toHaveBeenCalledWith("esr", CSV, true);
    expect(wrapper.get('[role="status"]').text()).toContain("Not imported yet (preview)");
    expect(wrapper.get("table").text()).toContain("@amy:trust.example");
    expect(wrapper.emitted("imported")).toBeUndefined();
  });

  it("reports a refused file's problems by line and column for the error summary", async () => {
    fakeDirectoryApi.importCsv.mockRejectedValue(
      new ApiError(400, "VALIDATION_FAILED", "The CSV file for esr was refused and nothing changed: line 2, column 3: a quoted field is never closed", [
        { path: "line 2, column 3", message: "a quoted field is never closed" },
      ]),
    );
    const wrapper = await render();
    await wrapper.get("button[type=button]").trigger("click");
    await flushPromises();
    expect(fakeDirectoryApi.importCsv).toHaveBeenCalledWith("esr", CSV, false);
    expect(wrapper.emitted("failed")?.at(-1)).toEqual([[{ text: "line 2, column 3: a quoted field is never closed", fieldId: "csv-file-esr" }]]);
    expect(wrapper.get(".nhsuk-error-message").text()).toContain("refused and nothing changed");
    expect(wrapper.get("#csv-file-esr").attributes("aria-describedby")).toBe("csv-file-esr-hint csv-file-esr-error");
  });

  it("asks for a file before sending anything", async () => {
    const wrapper = mount(CsvUploadForm, { props: { source: "esr", watching: null }, attachTo: document.body });
    await wrapper.get("form").trigger("submit");
    expect(fakeDirectoryApi.importCsv).not.toHaveBeenCalled();
    expect(wrapper.emitted("failed")?.at(-1)).toEqual([[{ text: "Select a CSV file", fieldId: "csv-file-esr" }]]);
  });
});
