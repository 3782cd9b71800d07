/** The Resend-compatible API: one route per file, registered together (edge/app.ts). */
import type { App } from '../../context.ts';
import { registerResendSendEmail } from './emails-send.ts';
import { registerResendSendBatch } from './emails-batch.ts';
import { registerResendGetEmail } from './emails-get.ts';
import { registerResendUpdateEmail } from './emails-update.ts';
import { registerResendCancelEmail } from './emails-cancel.ts';
import { registerResendCreateDomain } from './domains-create.ts';
import { registerResendListDomains } from './domains-list.ts';
import { registerResendGetDomain } from './domains-get.ts';
import { registerResendDeleteDomain } from './domains-delete.ts';
import { registerResendVerifyDomain } from './domains-verify.ts';
import { registerResendListApiKeys } from './api-keys-list.ts';

export { isResendPath, onResendError } from './common.ts';

export function registerResend(app: App) {
  registerResendSendEmail(app);
  registerResendSendBatch(app);
  registerResendGetEmail(app);
  registerResendUpdateEmail(app);
  registerResendCancelEmail(app);
  registerResendCreateDomain(app);
  registerResendListDomains(app);
  registerResendGetDomain(app);
  registerResendDeleteDomain(app);
  registerResendVerifyDomain(app);
  registerResendListApiKeys(app);
}
