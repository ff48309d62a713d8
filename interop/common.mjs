// Helpers the Node checks share: where authql is, and mail from the sink's folder.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const URL = process.env.AUTHQL_URL;
export const PASSWORD = 'Correct-Horse-Battery-Staple-42';

/** The confirmation link of the first mail to `to` (waits up to 30 s). */
export async function mailedLink(to) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const name of readdirSync(process.env.MAILDIR).filter((n) => n.endsWith('.eml')).sort()) {
      const raw = readFileSync(join(process.env.MAILDIR, name), 'latin1');
      if (!raw.includes(`To: ${to}`)) continue;
      // The text part is 7-bit or quoted-printable; undo soft line breaks first.
      const text = raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      const match = text.match(/https?:\/\/[^\s"<>]+\/confirm\/[A-Za-z0-9_-]+/);
      if (match) return match[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail to ${to}`);
}
