import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { access, link, open, readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { FiledDocument, FilingReceipt } from "../domain/records/filing.js";
import { type RecordDestination, RecordSystemError } from "../domain/records/record-destination.js";

/** Describes why a directory cannot take files, in words for the room and the portal. */
async function directoryProblem(directory: string): Promise<string | null> {
  try {
    if (!(await stat(directory)).isDirectory()) return `the file-drop path ${directory} is not a directory`;
  } catch {
    return `the file-drop directory ${directory} does not exist`;
  }
  try {
    await access(directory, constants.W_OK);
  } catch {
    return `the file-drop directory ${directory} is not writable`;
  }
  return null;
}

/**
 * A directory a record system imports from. Each filing is two files named by its export id:
 * `handover-<id>.pdf` (the transcript) and `handover-<id>.json` (the transaction bundle, the
 * PDF inline), the JSON last so an importer that watches for it finds the PDF already there.
 * Each is written under a hidden temporary name, flushed, and hard-linked to its final name:
 * the link is atomic and fails if the name exists, so an importer never sees half a file and
 * delivering the same filing again (a retry, or after a crash) never writes it twice.
 * The directory is never created: a missing one (an unmounted share) is a failure to retry.
 */
export class FileDropDestination implements RecordDestination {
  readonly kind = "file-drop" as const;

  constructor(private readonly directory: string) {}

  async deliver(exportId: string, document: FiledDocument): Promise<FilingReceipt> {
    const base = `handover-${exportId.replace(/[^A-Za-z0-9-]/g, "_")}`;
    const problem = await directoryProblem(this.directory);
    if (problem) throw new RecordSystemError("unavailable", problem);
    const pdfPath = join(this.directory, `${base}.pdf`);
    const jsonPath = join(this.directory, `${base}.json`);
    try {
      await this.removeStaleTemporaries(base);
      const pdf = await this.place(pdfPath, `.${base}.pdf`, document.pdf);
      const json = await this.place(jsonPath, `.${base}.json`, Buffer.from(document.bundleJson, "utf8"));
      return {
        destination: "file-drop",
        documentReference: jsonPath,
        versionId: null,
        entries: [
          { location: pdfPath, status: pdf },
          { location: jsonPath, status: json },
        ],
        acceptedAt: new Date().toISOString(),
      };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : error instanceof Error ? error.message : String(error);
      throw new RecordSystemError("unavailable", `could not write to the file-drop directory ${this.directory} (${reason})`);
    }
  }

  /** Writes `bytes` to `path` atomically unless it is already there; answers what happened. */
  private async place(path: string, temporaryPrefix: string, bytes: Uint8Array): Promise<"written" | "already there"> {
    const temporary = join(this.directory, `${temporaryPrefix}.${randomUUID()}.tmp`);
    const file = await open(temporary, "wx", 0o640);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await link(temporary, path);
      return "written";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return "already there";
      throw error;
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  /** Temporary files a crashed attempt left behind (hidden, so importers never took them). */
  private async removeStaleTemporaries(base: string): Promise<void> {
    const names = await readdir(this.directory);
    for (const name of names) {
      if (name.startsWith(`.${base}.`) && name.endsWith(".tmp")) await unlink(join(this.directory, name)).catch(() => undefined);
    }
  }
}
