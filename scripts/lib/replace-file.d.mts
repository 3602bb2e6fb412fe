/** Makes `file` hold `bytes` without ever truncating it in place; returns whether its content changed. */
export function replaceFile(file: string, bytes: Uint8Array): boolean;
