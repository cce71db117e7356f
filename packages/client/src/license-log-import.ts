import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

/**
 * The license-log import (POST /v1/imports/{format}, docs/license-logs.md): the types of its
 * call and answer, and how a body of any kind becomes what fetch streams.
 */

/** The log formats the server reads: a FlexNet debug log, an RLM report log, `lmstat -a` snapshots. */
export type LicenseLogFormat = 'flexlm' | 'rlm' | 'lmstat';

export const LICENSE_LOG_FORMATS: readonly LicenseLogFormat[] = ['flexlm', 'rlm', 'lmstat'];

/** A log's bytes: held whole, a web stream, or a Node stream (a file's createReadStream). */
export type LicenseLogBody = Buffer | Uint8Array | ReadableStream<Uint8Array> | NodeJS.ReadableStream;

export interface ImportLicenseLogOptions {
  /** The pool the log's usage is recorded in. */
  poolId: string;
  format: LicenseLogFormat;
  /** The log's text, or its gzip (the server recognises gzip by its magic bytes). */
  body: LicenseLogBody;
  /** The IANA time zone the log's clock ran in (default: the server's default, UTC). */
  timeZone?: string;
  /**
   * Compress the body with gzip on the way (sent with Content-Encoding: gzip): a log shrinks
   * about tenfold. Leave it off for a body that already is gzip (a rotated `.log.gz`).
   */
  gzip?: boolean;
  /** Cancels the upload; its reason is thrown. */
  signal?: AbortSignal;
  /** How long a refused attempt (RATE_LIMITED: an import of the pool is running) is retried; only a Buffer body can be sent again (default: the client's retryDeadlineMs). */
  retryDeadlineMs?: number;
}

/** What an import recorded (the server's answer). */
export interface LicenseLogImportSummary {
  importId: string;
  format: LicenseLogFormat;
  /** Lines read. */
  lines: number;
  /** Leases this import newly recorded. */
  leases: number;
  /** Denials this import newly recorded. */
  denials: number;
  /** Events recorded before (the same file again, or rotated files that overlap). */
  duplicates: number;
  /** Lines that are not events (banners, statistics), and check-ins with no check-out. */
  skippedLines: number;
  /** Leases whose end was not in the log (taken from a restart, a later snapshot or the log's end). */
  estimatedEnds: number;
  /** Feature names no app of the pool matches (set the app's externalNames). */
  unmatchedFeatures: string[];
  /** The first and last event's time (ISO 8601), null for a log with no event. */
  firstEvent: string | null;
  lastEvent: string | null;
}

/** Whether the body is held whole in memory (so it may be sent again). */
export function isWholeBody(body: LicenseLogBody): body is Uint8Array {
  return body instanceof Uint8Array;
}

function isWebStream(body: LicenseLogBody): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream<Uint8Array>).getReader === 'function';
}

/**
 * The body as fetch takes it: a whole body as is (gzipped first when asked), a stream as an
 * async iterable of bytes (fetch then needs `duplex: 'half'`), compressed as it goes.
 */
export function requestBody(body: LicenseLogBody, gzip: boolean): { body: Uint8Array | AsyncIterable<Uint8Array>; streamed: boolean } {
  if (isWholeBody(body) && !gzip) return { body, streamed: false };
  const source: Readable = isWholeBody(body)
    ? Readable.from([body], { objectMode: false })
    : isWebStream(body)
      ? Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>)
      : body instanceof Readable
        ? body
        : new Readable().wrap(body);
  if (!gzip) return { body: source, streamed: true };
  const zipped = createGzip();
  // A failing source (an unreadable file) fails the upload instead of leaving it hanging.
  source.once('error', (err) => zipped.destroy(err));
  return { body: source.pipe(zipped), streamed: true };
}
