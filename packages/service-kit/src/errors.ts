// RFC-shaped errors (`{error, error_description}`, RFC 6749 §5.2 style) as typed classes with their status.
// They are turned into responses in exactly one place: error-handler.ts.

export class ServiceError extends Error {
  /** Extra members of the error body, e.g. `approval_id` with `interaction_required` (R-STS-5). */
  extra: Record<string, string> = {};

  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends ServiceError {
  constructor(description: string) {
    super(400, 'invalid_request', description);
  }
}
export class Unauthorized extends ServiceError {
  constructor(description = 'authentication required', headers: Record<string, string> = {}) {
    super(401, 'unauthorized', description, headers);
  }
}
export class Forbidden extends ServiceError {
  constructor(description = 'not allowed') {
    super(403, 'forbidden', description);
  }
}
export class NotFound extends ServiceError {
  constructor(description = 'not found') {
    super(404, 'not_found', description);
  }
}
export class UnsupportedMediaType extends ServiceError {
  constructor(description = 'unsupported content type') {
    super(415, 'unsupported_media_type', description);
  }
}
export class PayloadTooLarge extends ServiceError {
  constructor(description = 'request body too large') {
    super(413, 'payload_too_large', description);
  }
}
export class TooManyRequests extends ServiceError {
  constructor(description = 'rate limit exceeded', retryAfterSeconds = 1) {
    super(429, 'too_many_requests', description, { 'retry-after': String(retryAfterSeconds) });
  }
}
export class ServiceUnavailable extends ServiceError {
  constructor(reason: string) {
    super(503, 'temporarily_unavailable', reason);
  }
}
export class Conflict extends ServiceError {
  constructor(description: string) {
    super(409, 'conflict', description);
  }
}
