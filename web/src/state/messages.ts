import type { components } from "../api/schema/chat";

export type Message = components["schemas"]["MessageOut"];
export type Room = components["schemas"]["RoomOut"];

/** One room's loaded history: ascending `seq`, at most one entry per message id. */
export interface History {
  items: Message[];
  /** The `before` cursor of the next older page; null once the first message is loaded. */
  older: number | null;
  loaded: boolean;
}

export const emptyHistory: History = { items: [], older: null, loaded: false };

/**
 * Merge messages into a history. A message already present is replaced only by a higher `version` (an edit,
 * deletion or reaction change arriving late never undoes a newer one); order is by `seq`, never by clock.
 */
export function mergeMessages(items: readonly Message[], incoming: readonly Message[]): Message[] {
  if (incoming.length === 0) return items as Message[];
  const byId = new Map(items.map((m) => [m.id, m]));
  let changed = false;
  for (const message of incoming) {
    const known = byId.get(message.id);
    if (!known || versionOf(message) > versionOf(known)) {
      byId.set(message.id, message);
      changed = true;
    }
  }
  if (!changed) return items as Message[];
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

function versionOf(message: Message): number {
  return message.version ?? 0;
}

/** Rooms most recent first: by their last message's `created_at`, then by the order the server gave. */
export function sortRooms(rooms: readonly Room[], serverOrder: readonly number[]): Room[] {
  const rank = new Map(serverOrder.map((id, index) => [id, index]));
  const stamp = (room: Room) => (room.last_message ? Date.parse(room.last_message.created_at) : 0);
  return [...rooms].sort(
    (a, b) => stamp(b) - stamp(a) || (rank.get(a.id) ?? 1e9) - (rank.get(b.id) ?? 1e9),
  );
}

/**
 * A room after a new message: the newest message becomes `last_message`, and it counts as unread unless
 * the caller sent it or is looking at the room.
 */
export function withNewMessage(room: Room, message: Message, me: number, viewing: boolean): Room {
  if (room.last_seq >= message.seq) return room;
  const unread = message.sender_id !== me && !viewing ? room.unread_count + 1 : room.unread_count;
  return { ...room, last_message: message, last_seq: message.seq, unread_count: unread };
}
