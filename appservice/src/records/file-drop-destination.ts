import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { FilingReceipt } from "../domain/records/filing.js";
import { type RecordDestination, RecordSystemError } from "../domain/records/record-destination.js";

/**
 * A directory a record system imports from. Each filing is one file named by its export id,
 * written to a temporary name and renamed, so the importer never sees half a file and
 * delivering the same filing again leaves the one file in place.
 */
export class FileDropDestination implements RecordDestination {
  readonly kind = "file-drop" as const;

  constructor(private readonly directory: string) {}

  async deliver(exportId: string, bundleJson: string): Promise<FilingReceipt> {
    const name = `handover-${exportId.replace(/[^A-Za-z0-9-]/g, "_")}.json`;
    const path = join(this.directory, name);
    try {
      await mkdir(this.directory, { recursive: true });
      const existing = await readFile(path, "utf8").catch(() => null);
      if (existing === null) {
        const temporary = join(this.directory, `.${name}.${randomUUID()}.tmp`);
        await writeFile(temporary, bundleJson, { flag: "wx" });
        await rename(temporary, path);
      }
    } catch (error) {
      throw new RecordSystemError("unavailable", `could not write to the file drop (${error instanceof Error ? error.message : String(error)})`);
    }
    return {
      destination: "file-drop",
      documentReference: path,
      versionId: null,
      entries: [{ location: path, status: "written" }],
      acceptedAt: new Date().toISOString(),
    };
  }
}
