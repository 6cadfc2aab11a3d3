import { join } from 'node:path';
import { sessionArn } from '../arn.ts';
import type { Audit } from '../audit.ts';
import type { ServerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { sealRecording } from '../recording/seal-recording.ts';
import type { Store } from '../store/index.ts';
import { SYSTEM_PRINCIPAL } from '../system-principal.ts';

/**
 * Sessions a previous run left active (it was killed, or the machine stopped): ended in the store, their
 * recordings sealed (a last line cut mid-write dropped, a final event saying why they end there), and audited.
 */
export async function endDanglingSessions(
  store: Store,
  audit: Audit,
  log: Logger,
  config: ServerConfig,
  at: number,
): Promise<void> {
  const reason = 'the server restarted';
  for (const session of await store.failDanglingSessions(at, reason)) {
    // The session ended when the server stopped: its recording's last event is the best time known for that
    // (the restart may come hours later).
    let endedAt = at;
    const recording = session.recordingKey
      ? await sealRecording(
          join(config.dataDir, session.recordingKey),
          `${reason} (it had stopped mid-session)`,
        ).then(
          ({ droppedBytes, lastEventSeconds }) => {
            endedAt = Math.min(
              at,
              Math.max(session.startedAt, session.startedAt + Math.round(lastEventSeconds * 1000)),
            );
            return droppedBytes > 0
              ? `sealed; a last line cut short (${droppedBytes} bytes) was dropped`
              : 'sealed';
          },
          (error: Error) => {
            log.error(
              { sessionId: session.id, err: error.message },
              'cannot seal the recording of a session left open',
            );
            return `cannot be sealed: ${error.message}`;
          },
        )
      : 'none';
    if (endedAt !== at) await store.updateSession(session.id, { endedAt });
    await audit({
      actor: SYSTEM_PRINCIPAL,
      action: 'sesame:SessionEnded',
      resource: sessionArn(config.arn, session.id),
      outcome: 'failed',
      at: endedAt,
      detail: { reason, recording, foundAt: new Date(at).toISOString() },
    });
  }
}
