import { readFileSync } from "node:fs";

/** Handover's version, from the appservice package. */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
