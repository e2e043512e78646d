const MXC = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/;

/** Every mxc:// URI in an event's content (m.image url, thumbnails, encrypted `file.url`, ...). */
export function mediaUrisOf(content: unknown, found: Set<string> = new Set()): Set<string> {
  if (typeof content === "string") {
    if (MXC.test(content)) found.add(content);
  } else if (Array.isArray(content)) {
    for (const item of content) mediaUrisOf(item, found);
  } else if (typeof content === "object" && content !== null) {
    for (const value of Object.values(content)) mediaUrisOf(value, found);
  }
  return found;
}

export function parseMxc(uri: string): { serverName: string; mediaId: string } | null {
  const match = MXC.exec(uri);
  return match ? { serverName: match[1] as string, mediaId: match[2] as string } : null;
}
