import { startStack } from "../stack.ts";

const s = await startStack({
  trusts: ["a", "b"],
  ...(process.env.BAD ? { extraSynapseConfig: (k: string) => (k === "b" ? { database: { name: "nonsense" } } : {}) } : {}),
});
console.log("READY", s.startupMs, s.trusts.a.pid, s.trusts.b.pid, s.databaseUrls.a);
setInterval(() => {}, 1000);
