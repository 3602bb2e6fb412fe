// Maps logical stream names to Redis keys. Signatures always cover the logical name, never the prefix, so a
// prefix (used to share one Redis between installations or test runs) cannot change what a signature means.

export class StreamKeys {
  constructor(readonly prefix: string = '') {
    if (!/^[A-Za-z0-9:._-]*$/.test(prefix)) throw new TypeError('redis key prefix may only hold A-Z a-z 0-9 : . _ -');
  }

  key(stream: string): string {
    return `${this.prefix}${stream}`;
  }
}
