// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import ModuleHealthRow from "./ModuleHealthRow.vue";

const render = (module: InstanceType<typeof ModuleHealthRow>["$props"]["module"]) => mount(ModuleHealthRow, { props: { module } }).text();

describe("ModuleHealthRow", () => {
  it("says 'not asked yet', not unreachable, before the Synapse module's first question", () => {
    const text = render({ lastAskedAt: null, reachable: false, status: "not-asked-yet" });
    expect(text).toContain("Not asked yet");
    expect(text).not.toMatch(/unreachable|recently/i);
  });

  it("says the module is asking, or has not asked recently, with when it last asked", () => {
    expect(render({ lastAskedAt: "2026-12-05T09:00:00.000Z", reachable: true, status: "asking" })).toMatch(/^Synapse moduleAsking \(last asked/);
    expect(render({ lastAskedAt: "2026-12-05T09:00:00.000Z", reachable: false, status: "not-asked-recently" })).toContain("Not asked recently");
  });
});
