// One audit DLQ entry as the API lists it and the CLI prints it (R-AUD-4): why it was dead-lettered, and what the
// message was about when its data could be read. Never the signature.

export interface DlqItem {
  id: string;
  reason: string | null;
  detail: string | null;
  source_id: string | null;
  deliveries: number | null;
  dead_lettered_at: string | null;
  event_id: string | null;
  zone_id: string | null;
  type: string | null;
  /** Size of the original `data` field; null when the message had none. */
  data_bytes: number | null;
}
