// How the console writes times and offers ban durations.

const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time of the API (milliseconds since the epoch) for people; an ISO string for <time>. */
export function formatTime(ms: number): { text: string; iso: string } {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return { text: String(ms), iso: '' };
  return { text: when.format(date), iso: date.toISOString() };
}

/** The ban durations the console offers; null: for good. */
export const DURATIONS: readonly { label: string; seconds: number | null }[] = [
  { label: 'For good', seconds: null },
  { label: '1 hour', seconds: 60 * 60 },
  { label: '24 hours', seconds: 24 * 60 * 60 },
  { label: '7 days', seconds: 7 * 24 * 60 * 60 },
  { label: '30 days', seconds: 30 * 24 * 60 * 60 },
];
