import { LOCALES, t, type Locale } from "../i18n";
import { chooseLocale, dismissNotice, logOut, store } from "../state/app";
import { useStore } from "../state/store";
import { Auth } from "./Auth";
import { Conversation } from "./Conversation";
import { Friends, People, Requests, Rooms } from "./Sidebar";

export function App() {
  const state = useStore(store);
  return (
    <div class="app">
      <header>
        <strong>{t("appName")}</strong>
        <span class="spacer" />
        <label class="row">
          <span class="sr-only">{t("language")}</span>
          <select aria-label={t("language")} value={state.locale} onChange={(e) => chooseLocale(e.currentTarget.value as Locale)}>
            {Object.entries(LOCALES).map(([code, name]) => (
              <option key={code} value={code}>{name}</option>
            ))}
          </select>
        </label>
        {state.signedIn && state.me && (
          <>
            <span>{state.me.display_name}</span>
            <button type="button" class="secondary" onClick={() => void logOut()}>{t("logOut")}</button>
          </>
        )}
      </header>
      {!state.online && <div role="status" class="banner offline">{t("offlineBanner")}</div>}
      {state.online && state.signedIn && (state.stream === "waiting" || state.stream === "connecting") && (
        <div role="status" class="banner">{t("reconnecting")}</div>
      )}
      {state.notice && (
        <div role="alert" class="banner error">
          {state.notice} <button type="button" class="link" onClick={dismissNotice}>{t("dismiss")}</button>
        </div>
      )}
      {state.signedIn ? (
        <main class="layout">
          <nav class="sidebar">
            <People state={state} />
            <Requests state={state} />
            <Friends state={state} />
            <Rooms state={state} />
          </nav>
          <Conversation state={state} />
        </main>
      ) : (
        <Auth />
      )}
    </div>
  );
}
