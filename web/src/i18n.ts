/**
 * The UI's words in English and Korean. The language follows the browser (`navigator.language`) until the
 * user picks one, which is remembered in localStorage. Accessible names come from here too, so a screen
 * reader speaks the same language as the screen.
 */
const en = {
  appName: "BigTech Chat",
  email: "Email",
  username: "Username",
  usernameOrEmail: "Email or username",
  password: "Password",
  displayName: "Display name",
  logIn: "Log in",
  createAccount: "Create account",
  haveAccount: "I have an account",
  needAccount: "I need an account",
  logOut: "Log out",
  language: "Language",
  findPeople: "Find people",
  search: "Search",
  addFriend: "Add friend",
  requestSent: "Request sent",
  alreadyFriend: "Friend",
  accept: "Accept",
  reject: "Reject",
  cancel: "Cancel",
  incomingRequests: "Friend requests",
  outgoingRequests: "Sent requests",
  friends: "Friends",
  rooms: "Rooms",
  messages: "Messages",
  message: "Message",
  send: "Send",
  online: "online",
  offline: "offline",
  noRooms: "No conversations yet. Open one from your friends.",
  noFriends: "No friends yet. Find people above.",
  noResults: "Nobody found.",
  pickRoom: "Pick a conversation, or a friend to start one.",
  loadOlder: "Load older messages",
  noOlder: "This is the beginning of the conversation.",
  pending: "sending…",
  queued: "waiting for the connection",
  failed: "not sent",
  retry: "Retry",
  discard: "Discard",
  edit: "Edit",
  save: "Save",
  delete: "Delete",
  deleted: "This message was deleted.",
  edited: "edited",
  reply: "Reply",
  replyingTo: "Replying to",
  react: "React with",
  unread: "unread",
  mentions: "mentions",
  seen: "Seen",
  typing: "is typing…",
  offlineBanner: "You are offline. Messages you send are queued and go out when the connection is back.",
  reconnecting: "Reconnecting to live updates…",
  throttled: "Too many requests; trying again in {s} s.",
  sessionEnded: "Your session ended. Please log in again.",
  networkError: "The server cannot be reached right now. Trying again shortly.",
  directRoom: "Direct message",
  you: "You",
  dismiss: "Dismiss",
  openChat: "Open chat with",
};
export type MessageKey = keyof typeof en;

const ko: Record<MessageKey, string> = {
  appName: "BigTech Chat",
  email: "이메일",
  username: "사용자 이름",
  usernameOrEmail: "이메일 또는 사용자 이름",
  password: "비밀번호",
  displayName: "표시 이름",
  logIn: "로그인",
  createAccount: "계정 만들기",
  haveAccount: "계정이 있어요",
  needAccount: "계정이 필요해요",
  logOut: "로그아웃",
  language: "언어",
  findPeople: "사람 찾기",
  search: "검색",
  addFriend: "친구 추가",
  requestSent: "요청 보냄",
  alreadyFriend: "친구",
  accept: "수락",
  reject: "거절",
  cancel: "취소",
  incomingRequests: "친구 요청",
  outgoingRequests: "보낸 요청",
  friends: "친구",
  rooms: "대화방",
  messages: "메시지",
  message: "메시지",
  send: "보내기",
  online: "온라인",
  offline: "오프라인",
  noRooms: "아직 대화가 없습니다. 친구 목록에서 시작하세요.",
  noFriends: "아직 친구가 없습니다. 위에서 사람을 찾아보세요.",
  noResults: "찾은 사람이 없습니다.",
  pickRoom: "대화방이나 친구를 선택하세요.",
  loadOlder: "이전 메시지 불러오기",
  noOlder: "대화의 처음입니다.",
  pending: "보내는 중…",
  queued: "연결을 기다리는 중",
  failed: "보내지 못함",
  retry: "다시 시도",
  discard: "버리기",
  edit: "수정",
  save: "저장",
  delete: "삭제",
  deleted: "삭제된 메시지입니다.",
  edited: "수정됨",
  reply: "답장",
  replyingTo: "답장 대상",
  react: "반응 남기기",
  unread: "읽지 않음",
  mentions: "멘션",
  seen: "읽음",
  typing: "님이 입력 중…",
  offlineBanner: "오프라인입니다. 보내는 메시지는 대기열에 저장되었다가 연결되면 전송됩니다.",
  reconnecting: "실시간 연결을 다시 여는 중…",
  throttled: "요청이 너무 많습니다. {s}초 후에 다시 시도합니다.",
  sessionEnded: "세션이 끝났습니다. 다시 로그인하세요.",
  networkError: "지금은 서버에 연결할 수 없습니다. 잠시 후 다시 시도합니다.",
  directRoom: "1:1 대화",
  you: "나",
  dismiss: "닫기",
  openChat: "대화 열기:",
};

export type Locale = "en" | "ko";
export const LOCALES: Record<Locale, string> = { en: "English", ko: "한국어" };
const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, ko };

let current: Locale = "en";

export function setLocale(locale: Locale): void {
  current = locale;
  document.documentElement.lang = locale;
}

export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text = dictionaries[current][key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ""));
}

export function initialLocale(stored: string | null, browser: string | undefined): Locale {
  if (stored === "en" || stored === "ko") return stored;
  return browser?.toLowerCase().startsWith("ko") ? "ko" : "en";
}
