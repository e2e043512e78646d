const MXC = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/;
const MXC_ANYWHERE = /mxc:\/\/[A-Za-z0-9.:[\]-]+\/[A-Za-z0-9_-]+/g;
const MEDIA_MSGTYPES = new Set(["m.image", "m.file", "m.video", "m.audio"]);

export interface MediaReference {
  uri: string;
  /** The event sent this media as its attachment or thumbnail; otherwise it only mentions it. */
  sent: boolean;
}

interface EventLike {
  type: string;
  content: Record<string, unknown>;
}

const record = (value: unknown): Record<string, unknown> | null =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

/**
 * The media an event sent as media: the attachment of an m.image/m.file/m.video/m.audio message
 * or a sticker, and its thumbnail (plain `url` or encrypted `file.url`). A URI merely written in
 * a message (a pasted link, a quote) is not the message's media: it may be another room's.
 */
export function mediaSentBy(event: EventLike): string[] {
  const content = event.content;
  const isMedia = event.type === "m.sticker" || (event.type === "m.room.message" && MEDIA_MSGTYPES.has(String(content.msgtype)));
  if (!isMedia) return [];
  const info = record(content.info);
  const candidates = [content.url, record(content.file)?.url, info?.thumbnail_url, record(info?.thumbnail_file)?.url];
  return [...new Set(candidates.filter((uri): uri is string => typeof uri === "string" && MXC.test(uri)))];
}

/** Every mxc:// URI an event mentions anywhere in its content, also inside longer text. */
export function mediaMentionedBy(content: unknown, found: Set<string> = new Set()): Set<string> {
  if (typeof content === "string") {
    for (const match of content.matchAll(MXC_ANYWHERE)) found.add(match[0]);
  } else if (Array.isArray(content)) {
    for (const item of content) mediaMentionedBy(item, found);
  } else if (typeof content === "object" && content !== null) {
    for (const value of Object.values(content)) mediaMentionedBy(value, found);
  }
  return found;
}

/** What an event sent and what it refers to, as recorded at intake (from the decrypted event in encrypted rooms). */
export function mediaReferencesOf(event: EventLike): MediaReference[] {
  const sent = new Set(mediaSentBy(event));
  const references: MediaReference[] = [...sent].map((uri) => ({ uri, sent: true }));
  for (const uri of mediaMentionedBy(event.content)) if (!sent.has(uri)) references.push({ uri, sent: false });
  return references;
}

export function parseMxc(uri: string): { serverName: string; mediaId: string } | null {
  const match = MXC.exec(uri);
  return match ? { serverName: match[1] as string, mediaId: match[2] as string } : null;
}
