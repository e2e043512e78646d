/** Sets the browser tab title, which screen readers announce first on a new page. */
export function showPageTitle(title: string): void {
  document.title = `${title} – Handover`;
}

/** A form that failed to submit says so in the title too, as the NHS design system asks. */
export function markPageTitleAsError(): void {
  if (!document.title.startsWith("Error: ")) document.title = `Error: ${document.title}`;
}
