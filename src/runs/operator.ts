/** Who is running this command, for run states and manifests: the OS user on this host. */
import { hostname, userInfo } from 'node:os';

export function operatorName(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.USERNAME ?? '';
  }
  return `${user || 'unknown'}@${hostname()}`;
}

export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? '';
  }
}
