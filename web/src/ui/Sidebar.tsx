import { useState } from "preact/hooks";
import { t } from "../i18n";
import { addFriend, answerRequest, openDirect, openRoom, notify, searchPeople } from "../state/app";
import type { Profile, State } from "../state/store";
import type { Room } from "../state/messages";

/** Run an action; its error becomes the notice. */
function act(action: () => Promise<unknown>) {
  return () => void action().catch((error) => notify(error));
}

export function People({ state }: { state: State }) {
  const [q, setQ] = useState("");
  const [results, setResults] = useState<Profile[] | null>(null);
  const me = state.me?.id;
  const friendIds = new Set(state.friends.map((f) => f.user_id));
  const asked = new Set(state.outgoing.map((r) => r.addressee_id));

  const search = async (event: Event) => {
    event.preventDefault();
    try {
      setResults(await searchPeople(q));
    } catch (error) {
      notify(error);
    }
  };

  return (
    <section aria-labelledby="people-h">
      <h2 id="people-h">{t("findPeople")}</h2>
      <form role="search" onSubmit={search} class="row">
        <input type="text" enterKeyHint="search" aria-label={t("findPeople")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <button type="submit">{t("search")}</button>
      </form>
      {results && (
        <ul aria-label={t("search")} class="people">
          {results.length === 0 && <li class="muted">{t("noResults")}</li>}
          {results
            .filter((p) => p.id !== me)
            .map((p) => (
              <li key={p.id}>
                <span>
                  <strong>{p.display_name}</strong> <span class="muted">@{p.username}</span>
                </span>
                {friendIds.has(p.id) ? (
                  <span class="muted">{t("alreadyFriend")}</span>
                ) : asked.has(p.id) ? (
                  <span class="muted">{t("requestSent")}</span>
                ) : (
                  <button type="button" aria-label={`${t("addFriend")} ${p.display_name}`} onClick={act(() => addFriend(p.id))}>
                    {t("addFriend")}
                  </button>
                )}
              </li>
            ))}
        </ul>
      )}
    </section>
  );
}

export function Requests({ state }: { state: State }) {
  if (state.incoming.length === 0 && state.outgoing.length === 0) return null;
  const name = (id: number) => state.users[id]?.display_name ?? `#${id}`;
  return (
    <section aria-labelledby="requests-h">
      <h2 id="requests-h">{t("incomingRequests")}</h2>
      <ul aria-label={t("incomingRequests")}>
        {state.incoming.map((r) => (
          <li key={r.id}>
            <span>{name(r.requester_id)}</span>
            <span class="row">
              <button type="button" onClick={act(() => answerRequest(r.id, true))}>{t("accept")}</button>
              <button type="button" class="secondary" onClick={act(() => answerRequest(r.id, false))}>{t("reject")}</button>
            </span>
          </li>
        ))}
      </ul>
      {state.outgoing.length > 0 && (
        <>
          <h3>{t("outgoingRequests")}</h3>
          <ul aria-label={t("outgoingRequests")}>
            {state.outgoing.map((r) => (
              <li key={r.id} class="muted">{name(r.addressee_id)}</li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function Friends({ state }: { state: State }) {
  return (
    <section aria-labelledby="friends-h">
      <h2 id="friends-h">{t("friends")}</h2>
      <ul aria-label={t("friends")} class="friends">
        {state.friends.length === 0 && <li class="muted">{t("noFriends")}</li>}
        {state.friends.map((f) => (
          <li key={f.user_id}>
            <button type="button" class="item" aria-label={`${t("openChat")} ${f.display_name}`} onClick={act(() => openDirect(f.user_id))}>
              <span class={f.is_online ? "dot on" : "dot"} role="img" aria-label={f.is_online ? t("online") : t("offline")} />
              {f.display_name}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function roomName(room: Room, state: State): string {
  if (room.name) return room.name;
  const others = room.member_ids.filter((id) => id !== state.me?.id);
  return others.map((id) => state.users[id]?.display_name ?? `#${id}`).join(", ") || t("directRoom");
}

export function Rooms({ state }: { state: State }) {
  return (
    <section aria-labelledby="rooms-h">
      <h2 id="rooms-h">{t("rooms")}</h2>
      <ul aria-label={t("rooms")} class="rooms">
        {state.rooms.length === 0 && <li class="muted">{t("noRooms")}</li>}
        {state.rooms.map((room) => {
          const last = room.last_message;
          const mentionCount = room.mention_count;
          return (
            <li key={room.id} aria-current={state.activeRoom === room.id ? "true" : undefined}>
              <button type="button" class="item" onClick={act(() => openRoom(room.id))}>
                <span class="room-line">
                  <strong>{roomName(room, state)}</strong>
                  {room.unread_count > 0 && (
                    <span class="badge" aria-label={`${room.unread_count} ${t("unread")}`}>{room.unread_count}</span>
                  )}
                  {mentionCount > 0 && (
                    <span class="badge mention" aria-label={`${mentionCount} ${t("mentions")}`}>@{mentionCount}</span>
                  )}
                </span>
                <span class="muted preview">{last ? (last.deleted ? t("deleted") : last.content) : ""}</span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
