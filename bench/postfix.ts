/**
 * The Postfix baseline of `npm run bench`: the same load as Postlane's e2e phase (P.e2eMessages
 * messages of about the same size, into the same smtp-sink, over as many outbound connections),
 * relayed by a private Postfix instance (lib/postfix-relay.ts) with its fsync'd queue, in the
 * same run minutes apart. Timed like Postlane's e2e: from the first message handed in to the
 * sink's last. smtp-source hands them in over P.smtpSessions reused SMTP sessions.
 */
import { freePort } from './lib/proc.ts';
import { smtpSource, startSmtpSink } from './lib/smtp.ts';
import { startPostfixRelay } from './lib/postfix-relay.ts';
import { P, R, dir, log } from './setup.ts';

export async function phasePostfix() {
  const sessions = P.smtpSessions;
  const connections = P.node.limits.maxConnections;
  log(`Postfix relay: smtp-source (${sessions} sessions) → private postfix (fsync'd queue, ${connections} connections to the relayhost) → smtp-sink, ${P.e2eMessages} messages`);
  const sink = await startSmtpSink(await freePort(), 300, dir);
  let relay: Awaited<ReturnType<typeof startPostfixRelay>> | null = null;
  try {
    relay = await startPostfixRelay({ port: await freePort(), relayPort: sink.port, destinationConcurrency: connections, reuseCount: P.node.limits.maxMessagesPerConnection });
    // A short warm-up (process start-up, the connection cache), not counted.
    const warm = 200;
    await smtpSource(relay.port, { sessions, messages: warm, bytes: P.smtpBytes, reuse: true, maxSeconds: 60 });
    if ((await sink.waitFor(warm, 30_000)) === null) throw new Error(`warm-up: ${sink.count}/${warm} relayed in 30 s; postfix log:\n${relay.logTail()}`);
    const base = sink.count;
    const t0 = Date.now();
    const reached = sink.waitFor(base + P.e2eMessages, P.e2eTimeoutMs);
    const handedIn = await smtpSource(relay.port, { sessions, messages: P.e2eMessages, bytes: P.smtpBytes, reuse: true, maxSeconds: P.e2eTimeoutMs / 1000 });
    const doneAt = await reached;
    const delivered = sink.count - base;
    const ms = (doneAt ?? Date.now()) - t0;
    R.postfix = { messages: P.e2eMessages, delivered, ms, perSec: (delivered / ms) * 1000, ingestMs: handedIn.ms, complete: doneAt !== null, sessions, connections };
  } catch (err) {
    R.postfix = { error: (err as Error).message };
  } finally {
    await relay?.stop();
    await sink.stop();
  }
}
