import type { ReactNode } from 'react';
import type { Message, ParleyClient } from '@parley/client';
import { AttachmentView, GONE_TEXT, attachmentUrl, isGone } from '../../components/Attachment';
import { Icon } from '../../components/Dialog';
import { describeError } from '../../lib/errors';
import { VoicePlayer } from './VoicePlayer';

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/gu;

/** Text with web links made clickable; everything else stays plain text (never HTML). */
function Linkified(props: { text: string }) {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of props.text.matchAll(URL_PATTERN)) {
    const start = match.index;
    if (start > last) parts.push(props.text.slice(last, start));
    parts.push(
      <a key={start} href={match[0]} target="_blank" rel="noopener noreferrer nofollow">
        {match[0]}
      </a>,
    );
    last = start + match[0].length;
  }
  if (last < props.text.length) parts.push(props.text.slice(last));
  return <>{parts}</>;
}

export function MessageBody(props: { client: ParleyClient; message: Message; onOpenImage: (url: string, name: string) => void }) {
  const c = props.message.content;
  if (c.type === 'text') {
    return (
      <p className="message-text" dir="auto">
        <Linkified text={c.text} />
      </p>
    );
  }
  if (c.type === 'attachment') {
    return (
      <>
        <AttachmentView client={props.client} message={props.message} onOpenImage={props.onOpenImage} />
        {c.caption !== undefined && c.caption !== '' && (
          <p className="message-text" dir="auto">
            <Linkified text={c.caption} />
          </p>
        )}
      </>
    );
  }
  if (c.type === 'deleted') {
    return (
      <p className="message-text deleted-text">
        <Icon name="deleted" size={15} /> This message was deleted
      </p>
    );
  }
  if (c.type === 'voice') {
    const message = props.message;
    return <VoicePlayer load={() => attachmentUrl(props.client, message)} durationMs={c.durationMs} waveform={c.waveform} describeError={(err) => (isGone(err) ? GONE_TEXT : describeError(err))} />;
  }
  return <p className="message-text muted">This message needs a newer version of Parley.</p>;
}
