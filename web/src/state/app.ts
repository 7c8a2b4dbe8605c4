import { chatApi, friendApi, ok, session, throttleListeners, userApi } from "../api/http";
import { ApiError, NetworkError, messageOf } from "../api/errors";
import { initialLocale, setLocale, t, type Locale } from "../i18n";
import { Outbox, type SendResult } from "../live/outbox";
import { LiveStream, type StreamEventName } from "../live/stream";
import { emptyHistory, mergeMessages, sortRooms, withNewMessage, type Message, type Room } from "./messages";
import { Store, initialState, type Profile } from "./store";
import type { components } from "../api/schema/chat";

type MessageCreate = components["schemas"]["MessageCreate"];

const LOCALE_KEY = "bigtech-chat.locale";
const HISTORY_PAGE = 50;
const HEARTBEAT_MS = 30_000;
const PEOPLE_POLL_MS = 5_000;
/** The server ignores a second typing call within 2 s; sending more often only costs requests. */
const TYPING_EVERY_MS = 3_000;

const locale = initialLocale(localStorage.getItem(LOCALE_KEY), navigator.language);
setLocale(locale);
export const store = new Store(initialState(locale));

export function chooseLocale(next: Locale): void {
  localStorage.setItem(LOCALE_KEY, next);
  setLocale(next);
  store.set({ locale: next });
}

/** An error in words: the server's `detail`, or a sentence for a network failure. */
export function describeError(error: unknown): string {
  return error instanceof NetworkError ? t("networkError") : messageOf(error);
}

/** Show an error; a network failure is left to the offline banner and the retries, not shown twice. */
export function notify(error: unknown): void {
  if (error instanceof NetworkError) {
    if (navigator.onLine) store.set({ notice: t("networkError") });
    return;
  }
  store.set({ notice: messageOf(error) });
}

export function dismissNotice(): void {
  store.set({ notice: null });
}

// ---------------------------------------------------------------- the outbox and the stream

const outbox = new Outbox<Message>({
  async send(pending): Promise<SendResult<Message>> {
    try {
      // `reply_to` (CONTRACT §8) goes out only when the user replied, so servers without it are unaffected.
      const body: MessageCreate & { reply_to?: string } = {
        content: pending.content,
        message_type: "text",
        client_msg_id: pending.clientMsgId,
      };
      if (pending.replyTo) body.reply_to = pending.replyTo;
      const message = await ok(
        chatApi.POST("/rooms/{room_id}/messages", { params: { path: { room_id: pending.roomId } }, body }),
      );
      return { kind: "sent", message };
    } catch (error) {
      if (error instanceof NetworkError || (error instanceof ApiError && error.status >= 500)) return { kind: "offline" };
      return { kind: "refused", error: messageOf(error) };
    }
  },
  onConfirmed: (message) => addMessages(message.room_id, [message], true),
  onChange: (pending) => store.set({ pending }),
});

const stream = new LiveStream({
  mintTicket: async () => (await ok(chatApi.POST("/stream/tickets"))).ticket,
  open: (url) => new EventSource(url),
  handlers: {
    onEvent: handleEvent,
    onReset: () => void resync(),
    onLive: (resumed) => {
      if (resumed) void refreshFriends();
      void outbox.resume();
    },
    onStatus: (status) => store.set({ stream: status }),
  },
});

window.addEventListener("offline", () => {
  store.set({ online: false });
  outbox.pause();
  stream.stop();
});
window.addEventListener("online", () => {
  store.set({ online: true });
  if (store.get().signedIn) {
    stream.start();
    void outbox.resume();
  }
});
throttleListeners.add((seconds) => store.set({ notice: t("throttled", { s: seconds }) }));

// ---------------------------------------------------------------- session

let heartbeat: ReturnType<typeof setInterval> | null = null;

session.onChange((signedIn) => {
  if (!signedIn) {
    const wasSignedIn = store.get().signedIn;
    stopLive();
    outbox.clear();
    store.set({ ...initialState(store.get().locale), notice: wasSignedIn ? t("sessionEnded") : null });
  }
});

/** On page load: a refresh token in this tab's sessionStorage signs the user back in silently. */
export async function restore(): Promise<void> {
  if (!session.hasRefreshToken) return;
  if (await session.refresh()) await start();
}

export async function logIn(email: string, password: string): Promise<void> {
  const pair = await ok(userApi.POST("/auth/login/json", { body: { email, password } }));
  session.accept(pair);
  await start();
}

export async function register(email: string, username: string, password: string, displayName: string): Promise<void> {
  const body: { email: string; username: string; password: string; display_name?: string } = { email, username, password };
  if (displayName.trim()) body.display_name = displayName.trim();
  await ok(userApi.POST("/auth/register", { body }));
  await logIn(email, password);
}

export async function logOut(): Promise<void> {
  const refresh = session.refreshToken;
  if (refresh) await userApi.POST("/auth/logout", { body: { refresh_token: refresh } }).catch(() => undefined);
  session.clear();
}

async function start(): Promise<void> {
  const me = await ok(userApi.GET("/profile/me"));
  store.set({ signedIn: true, me, notice: null, users: { ...store.get().users, [me.id]: me } });
  stream.start();
  void beat();
  heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  await Promise.all([refreshFriends(), refreshRequests(), refreshRooms()]).catch(notify);
}

function stopLive(): void {
  stream.stop();
  if (heartbeat) clearInterval(heartbeat);
  heartbeat = null;
}

async function beat(): Promise<void> {
  await userApi.POST("/presence/heartbeat").catch(() => undefined);
}

// ---------------------------------------------------------------- people and friends

/** Fetch the public profiles of ids not known yet (one batch request). */
export async function learnUsers(ids: Iterable<number>): Promise<void> {
  const known = store.get().users;
  const missing = [...new Set(ids)].filter((id) => !known[id]).slice(0, 100);
  if (missing.length === 0) return;
  const page = await ok(userApi.GET("/users", { params: { query: { ids: missing.join(",") } } }));
  const users = { ...store.get().users };
  for (const user of page.items) users[user.id] = user;
  store.set({ users });
}

export async function searchPeople(q: string): Promise<Profile[]> {
  if (!q.trim()) return [];
  const page = await ok(userApi.GET("/users/search", { params: { query: { q: q.trim(), limit: 20 } } }));
  const users = { ...store.get().users };
  for (const user of page.items) users[user.id] = user;
  store.set({ users });
  return page.items;
}

export async function refreshFriends(): Promise<void> {
  const page = await ok(friendApi.GET("/friends", { params: { query: { limit: 100 } } }));
  store.set({ friends: page.items });
}

export async function refreshRequests(): Promise<void> {
  const [incoming, outgoing] = await Promise.all([
    ok(friendApi.GET("/friends/requests", { params: { query: { direction: "incoming" } } })),
    ok(friendApi.GET("/friends/requests", { params: { query: { direction: "outgoing" } } })),
  ]);
  store.set({ incoming: incoming.items, outgoing: outgoing.items });
  await learnUsers([...incoming.items.map((r) => r.requester_id), ...outgoing.items.map((r) => r.addressee_id)]);
}

export async function addFriend(userId: number): Promise<void> {
  await ok(friendApi.POST("/friends/requests", { body: { user_id: userId } }));
  await Promise.all([refreshRequests(), refreshFriends()]);
}

export async function answerRequest(requestId: number, accept: boolean): Promise<void> {
  const path = { params: { path: { request_id: requestId } } };
  await ok(accept ? friendApi.POST("/friends/requests/{request_id}/accept", path) : friendApi.POST("/friends/requests/{request_id}/reject", path));
  await Promise.all([refreshRequests(), refreshFriends()]);
}

// ---------------------------------------------------------------- rooms

export async function refreshRooms(): Promise<void> {
  const page = await ok(chatApi.GET("/rooms", { params: { query: { limit: 100 } } }));
  const order = page.items.map((room) => room.id);
  store.set({ rooms: sortRooms(page.items, order), roomOrder: order });
  await learnUsers(page.items.flatMap((room) => room.member_ids));
}

function updateRoom(roomId: number, change: (room: Room) => Room): void {
  const { rooms, roomOrder } = store.get();
  if (!rooms.some((room) => room.id === roomId)) {
    void refreshRooms().catch(notify);
    return;
  }
  store.set({ rooms: sortRooms(rooms.map((room) => (room.id === roomId ? change(room) : room)), roomOrder) });
}

/** The direct room with a friend (created on first use, the existing one after), opened. */
export async function openDirect(friendId: number): Promise<void> {
  const room = await ok(chatApi.POST("/rooms", { body: { type: "direct", member_ids: [friendId] } }));
  if (!store.get().rooms.some((r) => r.id === room.id)) await refreshRooms();
  await openRoom(room.id);
}

export async function openRoom(roomId: number): Promise<void> {
  store.set({ activeRoom: roomId });
  if (!store.get().histories[roomId]?.loaded) await loadLatest(roomId);
  markRead(roomId);
}

async function loadLatest(roomId: number): Promise<void> {
  const page = await ok(
    chatApi.GET("/rooms/{room_id}/messages", { params: { path: { room_id: roomId }, query: { limit: HISTORY_PAGE } } }),
  );
  const history = store.get().histories[roomId] ?? emptyHistory;
  const older = history.loaded ? history.older : ((page.next_cursor as number | null | undefined) ?? null);
  setHistory(roomId, { items: mergeMessages(history.items, page.items), older, loaded: true });
  await learnUsers(page.items.map((m) => m.sender_id));
}

const loadingOlder = new Set<number>();

/** The page before the oldest loaded message (scrolling up); one request at a time per room. */
export async function loadOlder(roomId: number): Promise<void> {
  const history = store.get().histories[roomId];
  if (!history || history.older === null || loadingOlder.has(roomId)) return;
  loadingOlder.add(roomId);
  try {
    await loadPageBefore(roomId, history.older);
  } finally {
    loadingOlder.delete(roomId);
  }
}

async function loadPageBefore(roomId: number, before: number): Promise<void> {
  const history = store.get().histories[roomId] ?? emptyHistory;
  const page = await ok(
    chatApi.GET("/rooms/{room_id}/messages", {
      params: { path: { room_id: roomId }, query: { before, limit: HISTORY_PAGE } },
    }),
  );
  const now = store.get().histories[roomId] ?? history;
  setHistory(roomId, {
    items: mergeMessages(now.items, page.items),
    older: (page.next_cursor as number | null | undefined) ?? null,
    loaded: true,
  });
  await learnUsers(page.items.map((m) => m.sender_id));
}

function setHistory(roomId: number, history: typeof emptyHistory): void {
  store.set((state) => ({ histories: { ...state.histories, [roomId]: history } }));
}

function addMessages(roomId: number, messages: Message[], fresh: boolean): void {
  const history = store.get().histories[roomId];
  if (history) setHistory(roomId, { ...history, items: mergeMessages(history.items, messages) });
  const me = store.get().me?.id ?? 0;
  for (const message of messages) {
    if (fresh) {
      const viewing = store.get().activeRoom === roomId && document.visibilityState === "visible";
      updateRoom(roomId, (room) => withNewMessage(room, message, me, viewing));
      if (viewing && message.sender_id !== me) markRead(roomId);
    } else {
      updateRoom(roomId, (room) => (room.last_message?.id === message.id ? { ...room, last_message: message } : room));
    }
  }
  void learnUsers(messages.map((m) => m.sender_id)).catch(() => undefined);
}

let readTimer: ReturnType<typeof setTimeout> | null = null;

/** Move the caller's read position to the newest loaded message of the room (debounced). */
export function markRead(roomId: number): void {
  if (readTimer) clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    readTimer = null;
    const room = store.get().rooms.find((r) => r.id === roomId);
    const items = store.get().histories[roomId]?.items ?? [];
    const seq = Math.max(room?.last_seq ?? 0, items.at(-1)?.seq ?? 0);
    if (!room || seq <= room.last_read_seq) return;
    updateRoom(roomId, (r) => ({ ...r, last_read_seq: seq, unread_count: 0, mention_count: 0 }));
    void ok(chatApi.POST("/rooms/{room_id}/read", { params: { path: { room_id: roomId } }, body: { seq } })).catch(notify);
  }, 300);
}

// ---------------------------------------------------------------- messages

export function send(roomId: number, content: string, replyTo: string | null = null): void {
  if (!content.trim()) return;
  outbox.add(roomId, content, replyTo);
}

export const retrySend = (clientMsgId: string) => outbox.retry(clientMsgId);
export const discardSend = (clientMsgId: string) => outbox.discard(clientMsgId);

export async function editMessage(message: Message, content: string): Promise<void> {
  const updated = await ok(
    chatApi.PATCH("/rooms/{room_id}/messages/{message_id}", {
      params: { path: { room_id: message.room_id, message_id: message.id } },
      body: { content },
    }),
  );
  addMessages(message.room_id, [updated], false);
}

export async function deleteMessage(message: Message): Promise<void> {
  await ok(
    chatApi.DELETE("/rooms/{room_id}/messages/{message_id}", {
      params: { path: { room_id: message.room_id, message_id: message.id } },
    }),
  );
}

export async function toggleReaction(message: Message, emoji: string): Promise<void> {
  const me = store.get().me?.id ?? 0;
  const mine = (message.reactions[emoji] ?? []).includes(me);
  const params = { params: { path: { room_id: message.room_id, message_id: message.id, emoji } } };
  const updated = await ok(
    mine
      ? chatApi.DELETE("/rooms/{room_id}/messages/{message_id}/reactions/{emoji}", params)
      : chatApi.PUT("/rooms/{room_id}/messages/{message_id}/reactions/{emoji}", params),
  );
  addMessages(message.room_id, [updated], false);
}

let lastTyping = 0;

/** Tell the room the user is typing, at most every few seconds (the server drops repeats within 2 s). */
export function typing(roomId: number): void {
  const now = Date.now();
  if (now - lastTyping < TYPING_EVERY_MS) return;
  lastTyping = now;
  void chatApi.POST("/rooms/{room_id}/typing", { params: { path: { room_id: roomId } } }).catch(() => undefined);
}

// ---------------------------------------------------------------- the stream's events

interface MessageData {
  room_id: number;
  message: Message;
}

function handleEvent(name: StreamEventName, data: unknown): void {
  const event = data as Record<string, unknown> & { room_id?: number };
  switch (name) {
    case "message.created": {
      const { room_id, message } = event as unknown as MessageData;
      outbox.confirm(message);
      addMessages(room_id, [message], true);
      clearTyping(room_id, message.sender_id);
      break;
    }
    case "message.updated":
    case "message.deleted":
    case "reaction.updated": {
      const { room_id, message } = event as unknown as MessageData;
      addMessages(room_id, [message], false);
      break;
    }
    case "read.updated": {
      const { room_id, user_id, last_read_seq } = event as { room_id: number; user_id: number; last_read_seq: number };
      store.set((state) => ({
        reads: { ...state.reads, [room_id]: { ...state.reads[room_id], [user_id]: last_read_seq } },
      }));
      if (user_id === store.get().me?.id) {
        updateRoom(room_id, (room) =>
          last_read_seq > room.last_read_seq ? { ...room, last_read_seq, unread_count: 0, mention_count: 0 } : room,
        );
      }
      break;
    }
    case "room.created":
    case "room.updated":
    case "room.member_joined":
    case "room.member_left":
    case "room.member_role_changed":
      void refreshRooms().catch(notify);
      break;
    case "typing": {
      const { room_id, user_id, expires_in } = event as { room_id: number; user_id: number; expires_in?: number };
      const until = Date.now() + (expires_in ?? 5) * 1000;
      store.set((state) => ({ typing: { ...state.typing, [room_id]: { ...state.typing[room_id], [user_id]: until } } }));
      setTimeout(() => store.set((state) => ({ typing: { ...state.typing } })), (expires_in ?? 5) * 1000 + 50);
      break;
    }
    case "presence.updated": {
      const { user_id, is_online } = event as { user_id: number; is_online: boolean };
      store.set((state) => ({
        friends: state.friends.map((f) => (f.user_id === user_id ? { ...f, is_online } : f)),
      }));
      break;
    }
  }
}

function clearTyping(roomId: number, userId: number): void {
  const room = store.get().typing[roomId];
  if (!room?.[userId]) return;
  const { [userId]: _gone, ...rest } = room;
  store.set((state) => ({ typing: { ...state.typing, [roomId]: rest } }));
}

/** `reset`: the stream could not replay, so everything shown is re-read from the REST routes. */
async function resync(): Promise<void> {
  try {
    await Promise.all([refreshRooms(), refreshFriends(), refreshRequests()]);
    const loaded = Object.entries(store.get().histories).filter(([, h]) => h.loaded);
    await Promise.all(loaded.map(([id]) => loadLatest(Number(id))));
  } catch (error) {
    notify(error);
  }
}

/**
 * Friend-service has no stream: friends (with their online state, until §8's `presence.updated` arrives on
 * the stream) and requests are re-read every few seconds while signed in and visible, and on focus.
 */
function pollPeople(): void {
  const state = store.get();
  if (!state.signedIn || !state.online || document.visibilityState !== "visible") return;
  void Promise.all([refreshFriends(), refreshRequests()]).catch(() => undefined);
}
setInterval(pollPeople, PEOPLE_POLL_MS);
window.addEventListener("focus", pollPeople);
