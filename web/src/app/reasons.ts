// The report reasons in words, shared by the report dialog and the moderator console.
import type { ReportReason } from '../protocol/types';

export const REPORT_REASON_LABELS: Readonly<Record<ReportReason, string>> = {
  spam: 'Spam or advertising',
  abuse: 'Insults, threats or hate',
  sexual: 'Unwanted sexual content',
  minor: 'Seems to be under 18',
  other: 'Something else',
};

/** The words for a reason, or the reason itself if a newer server sends one this page lacks. */
export function reasonLabel(reason: string): string {
  return (REPORT_REASON_LABELS as Readonly<Record<string, string>>)[reason] ?? reason;
}
