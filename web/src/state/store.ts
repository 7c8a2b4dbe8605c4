import { useEffect, useState } from "preact/hooks";
import type { components as UserSchemas } from "../api/schema/user";
import type { components as FriendSchemas } from "../api/schema/friend";
import type { PendingMessage } from "../live/outbox";
import type { StreamStatus } from "../live/stream";
import type { Locale } from "../i18n";
import type { History, Room } from "./messages";

export type Profile = UserSchemas["schemas"]["PublicProfile"];
export type OwnProfile = UserSchemas["schemas"]["OwnProfile"];
export type Friend = FriendSchemas["schemas"]["FriendOut"];
export type FriendRequest = FriendSchemas["schemas"]["FriendRequestOut"];

export interface State {
  locale: Locale;
  signedIn: boolean;
  me: OwnProfile | null;
  users: Record<number, Profile>;
  friends: Friend[];
  incoming: FriendRequest[];
  outgoing: FriendRequest[];
  rooms: Room[];
  roomOrder: number[];
  histories: Record<number, History>;
  pending: readonly PendingMessage[];
  /** room → user → when (ms) their typing indicator ends */
  typing: Record<number, Record<number, number>>;
  /** room → user → their read position, from `read.updated` */
  reads: Record<number, Record<number, number>>;
  activeRoom: number | null;
  online: boolean;
  stream: StreamStatus;
  /** The last error or notice to show, already in words. */
  notice: string | null;
}

type Listener = () => void;

/** The app's state as one immutable object; components re-render when it is replaced. */
export class Store {
  private listeners = new Set<Listener>();
  constructor(private state: State) {}

  get(): State {
    return this.state;
  }

  set(patch: Partial<State> | ((state: State) => Partial<State>)): void {
    const change = typeof patch === "function" ? patch(this.state) : patch;
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function initialState(locale: Locale): State {
  return {
    locale,
    signedIn: false,
    me: null,
    users: {},
    friends: [],
    incoming: [],
    outgoing: [],
    rooms: [],
    roomOrder: [],
    histories: {},
    pending: [],
    typing: {},
    reads: {},
    activeRoom: null,
    online: typeof navigator === "undefined" ? true : navigator.onLine,
    stream: "idle",
    notice: null,
  };
}

/** The current state, re-rendering the calling component whenever it changes. */
export function useStore(store: Store): State {
  const [state, setState] = useState(store.get());
  useEffect(() => store.subscribe(() => setState(store.get())), [store]);
  return state;
}
