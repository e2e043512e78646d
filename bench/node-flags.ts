/**
 * The flags the `handover` launcher (the shebang of appservice/src/cli.ts) and the container's
 * entrypoint run Node with; every bench process that stands for Handover runs with them too
 * (docs/performance.md says why). BENCH_NODE_FLAGS overrides them, to compare.
 */
export const HANDOVER_NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? "--max-semi-space-size=2 --optimize-for-size").split(" ").filter(Boolean);
export const HANDOVER_NODE_FLAGS_TEXT = HANDOVER_NODE_FLAGS.join(" ");
