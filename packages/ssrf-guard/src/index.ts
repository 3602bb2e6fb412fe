// SSRF guard shared by the gateway (resolve- and connect-time checks) and the API (refusal at creation) (R-GW-3).
export * from './ssrf-guard.js';
