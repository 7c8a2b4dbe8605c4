import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { t } from "../i18n";
import {
  deleteMessage,
  discardSend,
  editMessage,
  loadOlder,
  retrySend,
  send,
  notify,
  toggleReaction,
  typing,
} from "../state/app";
import type { State } from "../state/store";
import type { Message } from "../state/messages";
import type { PendingMessage } from "../live/outbox";
import { roomName } from "./Sidebar";
import { mentionAt } from "./mentions";

const REACTIONS = ["👍", "❤️", "😂", "🎉"];

function report(error: unknown) {
  notify(error);
}

export function Conversation({ state }: { state: State }) {
  const roomId = state.activeRoom;
  const room = state.rooms.find((r) => r.id === roomId);
  const listRef = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  const [replyTo, setReplyTo] = useState<Message | null>(null);
  const history = roomId !== null ? state.histories[roomId] : undefined;
  const items = history?.items ?? [];
  const pending = state.pending.filter((p) => p.roomId === roomId);

  // Keep the newest message in view while the user is at the bottom; keep the position when older pages load.
  const previous = useRef({ first: "", height: 0 });
  useLayoutEffect(() => {
    const list = listRef.current;
    if (!list) return;
    const first = items[0]?.id ?? "";
    if (previous.current.first && first !== previous.current.first && !stick.current) {
      list.scrollTop += list.scrollHeight - previous.current.height;
    } else if (stick.current) {
      list.scrollTop = list.scrollHeight;
    }
    previous.current = { first, height: list.scrollHeight };
  });
  useEffect(() => setReplyTo(null), [roomId]);

  if (roomId === null || !room) return <section class="conversation empty"><p class="muted">{t("pickRoom")}</p></section>;

  const me = state.me?.id ?? 0;
  const name = (id: number) => (id === me ? t("you") : (state.users[id]?.display_name ?? `#${id}`));
  const typers = Object.entries(state.typing[roomId] ?? {})
    .filter(([id, until]) => Number(id) !== me && until > Date.now())
    .map(([id]) => name(Number(id)));
  const othersRead = Object.entries(state.reads[roomId] ?? {})
    .filter(([id]) => Number(id) !== me)
    .map(([, seq]) => seq);
  const seenUpTo = othersRead.length ? Math.min(...othersRead) : 0;
  const lastMine = [...items].reverse().find((m) => m.sender_id === me && m.seq <= seenUpTo);

  const onScroll = () => {
    const list = listRef.current;
    if (!list) return;
    stick.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (list.scrollTop < 40 && history?.older !== null) void loadOlder(roomId).catch(report);
  };

  return (
    <section class="conversation" aria-labelledby="room-h">
      <h2 id="room-h">{roomName(room, state)}</h2>
      <ol aria-label={t("messages")} class="messages" ref={listRef} onScroll={onScroll}>
        <li class="older" aria-hidden={history?.older === null ? "true" : undefined}>
          {history?.older === null ? (
            <span class="muted">{t("noOlder")}</span>
          ) : (
            <button type="button" class="link" onClick={() => void loadOlder(roomId).catch(report)}>{t("loadOlder")}</button>
          )}
        </li>
        {items.map((m) => (
          <MessageItem key={m.id} message={m} mine={m.sender_id === me} sender={name(m.sender_id)} me={me} seen={m === lastMine} onReply={setReplyTo} />
        ))}
        {pending.map((p) => (
          <PendingItem key={p.clientMsgId} pending={p} />
        ))}
      </ol>
      <p class="typing" aria-live="polite">{typers.length > 0 ? `${typers.join(", ")} ${t("typing")}` : ""}</p>
      {replyTo && (
        <p class="replying">
          {t("replyingTo")} {name(replyTo.sender_id)}: <em>{replyTo.content?.slice(0, 80)}</em>{" "}
          <button type="button" class="link" onClick={() => setReplyTo(null)}>{t("cancel")}</button>
        </p>
      )}
      <Composer
        roomId={roomId}
        replyTo={replyTo}
        members={room.member_ids.filter((id) => id !== me && state.users[id]).map((id) => state.users[id])}
        onSent={() => { stick.current = true; setReplyTo(null); }}
      />
    </section>
  );
}

function MessageItem(props: { message: Message; mine: boolean; sender: string; me: number; seen: boolean; onReply: (m: Message) => void }) {
  const { message: m, mine, sender, me } = props;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.content ?? "");
  const time = new Date(m.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await editMessage(m, draft);
      setEditing(false);
    } catch (error) {
      report(error);
    }
  };

  return (
    <li class={mine ? "message mine" : "message"} data-seq={m.seq}>
      <div class="meta">
        <strong>{sender}</strong> <time dateTime={m.created_at}>{time}</time>
        {m.edited_at && !m.deleted && <span class="muted"> · {t("edited")}</span>}
      </div>
      {m.reply_to && (
        <blockquote class="quote">{m.reply_to.excerpt ?? t("deleted")}</blockquote>
      )}
      {m.deleted ? (
        <p class="muted deleted">{t("deleted")}</p>
      ) : editing ? (
        <form onSubmit={save} class="row">
          <input aria-label={t("edit")} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
          <button type="submit">{t("save")}</button>
          <button type="button" class="secondary" onClick={() => setEditing(false)}>{t("cancel")}</button>
        </form>
      ) : (
        <p class="text">{highlightMentions(m.content ?? "", (m.mentions ?? []).includes(me))}</p>
      )}
      {!m.deleted && (
        <div class="actions">
          {REACTIONS.map((emoji) => {
            const users = m.reactions[emoji] ?? [];
            return (
              <button
                key={emoji}
                type="button"
                class={users.includes(me) ? "reaction on" : "reaction"}
                aria-pressed={users.includes(me)}
                aria-label={`${t("react")} ${emoji}${users.length ? ` (${users.length})` : ""}`}
                onClick={() => void toggleReaction(m, emoji).catch(report)}
              >
                {emoji}
                {users.length > 0 && <span>{users.length}</span>}
              </button>
            );
          })}
          <button type="button" class="link" onClick={() => props.onReply(m)}>{t("reply")}</button>
          {mine && <button type="button" class="link" onClick={() => { setDraft(m.content ?? ""); setEditing(true); }}>{t("edit")}</button>}
          {mine && <button type="button" class="link danger" onClick={() => void deleteMessage(m).catch(report)}>{t("delete")}</button>}
        </div>
      )}
      {props.seen && <p class="seen muted">{t("seen")}</p>}
    </li>
  );
}

function highlightMentions(text: string, mentionsMe: boolean) {
  if (!text.includes("@")) return text;
  return text.split(/(@[A-Za-z0-9_]{3,20})/g).map((part, i) =>
    part.startsWith("@") ? <mark key={i} class={mentionsMe ? "mention me" : "mention"}>{part}</mark> : part,
  );
}

function PendingItem({ pending: p }: { pending: PendingMessage }) {
  return (
    <li class="message mine pending" aria-busy={p.state !== "failed"}>
      <p class="text">{p.content}</p>
      <p class="muted status">
        {p.state === "failed" ? (
          <>
            {t("failed")}: {p.error}{" "}
            <button type="button" class="link" onClick={() => retrySend(p.clientMsgId)}>{t("retry")}</button>{" "}
            <button type="button" class="link" onClick={() => discardSend(p.clientMsgId)}>{t("discard")}</button>
          </>
        ) : p.state === "queued" ? (
          t("queued")
        ) : (
          t("pending")
        )}
      </p>
    </li>
  );
}

function Composer({ roomId, replyTo, onSent, members }: { roomId: number; replyTo: Message | null; onSent: () => void; members: { username: string; display_name: string }[] }) {
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [picked, setPicked] = useState(0);
  const [dismissed, setDismissed] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const mention = dismissed ? null : mentionAt(text, caret);
  const suggestions = mention
    ? members.filter((m) => m.username.toLowerCase().startsWith(mention.prefix.toLowerCase())).slice(0, 6)
    : [];

  const submit = () => {
    if (!text.trim()) return;
    send(roomId, text, replyTo?.id ?? null);
    setText("");
    setCaret(0);
    onSent();
  };
  const complete = (username: string) => {
    if (!mention) return;
    const next = `${text.slice(0, mention.start)}@${username} ${text.slice(caret)}`;
    const at = mention.start + username.length + 2;
    setText(next);
    setCaret(at);
    setPicked(0);
    requestAnimationFrame(() => box.current?.setSelectionRange(at, at));
  };
  const track = (el: HTMLTextAreaElement) => {
    setCaret(el.selectionStart ?? el.value.length);
    setDismissed(false);
  };

  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      {suggestions.length > 0 && (
        <ul role="listbox" aria-label={t("mentions")} class="suggestions">
          {suggestions.map((m, i) => (
            <li key={m.username} role="option" aria-selected={i === picked} onMouseDown={(e) => { e.preventDefault(); complete(m.username); }}>
              <strong>@{m.username}</strong> <span class="muted">{m.display_name}</span>
            </li>
          ))}
        </ul>
      )}
      <textarea
        ref={box}
        aria-label={t("message")}
        aria-autocomplete="list"
        aria-expanded={suggestions.length > 0}
        rows={2}
        maxLength={4000}
        value={text}
        onInput={(e) => { setText(e.currentTarget.value); track(e.currentTarget); typing(roomId); }}
        onClick={(e) => track(e.currentTarget)}
        onKeyDown={(e) => {
          if (suggestions.length > 0) {
            if (e.key === "ArrowDown" || e.key === "ArrowUp") {
              e.preventDefault();
              const step = e.key === "ArrowDown" ? 1 : suggestions.length - 1;
              setPicked((picked + step) % suggestions.length);
              return;
            }
            if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
              e.preventDefault();
              complete(suggestions[Math.min(picked, suggestions.length - 1)].username);
              return;
            }
            if (e.key === "Escape") {
              setDismissed(true);
              return;
            }
          }
          // Enter sends; Shift+Enter breaks the line; Enter while an IME is composing (Hangul) finishes the syllable.
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit">{t("send")}</button>
    </form>
  );
}
