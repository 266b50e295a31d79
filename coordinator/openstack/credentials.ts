/** Auth headers without Keystone: a fixed token (`admin_token`) or HTTP Basic (`http_basic`). */
import type { Credentials } from './service-client.js';
import type { Secret } from './secret.js';

/** `X-Auth-Token: <token>` on every request; a 401 is final. */
export class StaticToken implements Credentials {
  constructor(private readonly token: Secret) {}

  headers(): Promise<Record<string, string>> {
    return Promise.resolve({ 'X-Auth-Token': this.token.reveal() });
  }

  rejected(): boolean {
    return false;
  }
}

/** `Authorization: Basic ...` on every request (Ironic's `auth_strategy = http_basic`); a 401 is final. */
export class BasicAuth implements Credentials {
  constructor(
    private readonly username: string,
    private readonly password: Secret,
  ) {}

  headers(): Promise<Record<string, string>> {
    const pair = Buffer.from(`${this.username}:${this.password.reveal()}`).toString('base64');
    return Promise.resolve({ Authorization: `Basic ${pair}` });
  }

  rejected(): boolean {
    return false;
  }
}
