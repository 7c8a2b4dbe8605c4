import { useState } from "preact/hooks";
import { t } from "../i18n";
import { describeError, logIn, register } from "../state/app";

/** Log in, or create an account (which logs in right after). */
export function Auth() {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "login") await logIn(email, password);
      else await register(email, username, password, displayName);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth">
      <h1>{t("appName")}</h1>
      <form onSubmit={submit} aria-label={mode === "login" ? t("logIn") : t("createAccount")}>
        <label>
          {t("email")}
          <input type="email" name="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        {mode === "register" && (
          <>
            <label>
              {t("username")}
              <input name="username" autoComplete="username" required minLength={3} maxLength={20} pattern="[A-Za-z0-9_]+" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
            </label>
            <label>
              {t("displayName")}
              <input name="display_name" maxLength={50} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
            </label>
          </>
        )}
        <label>
          {t("password")}
          <input type="password" name="password" autoComplete={mode === "login" ? "current-password" : "new-password"} required minLength={mode === "register" ? 8 : 1} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" disabled={busy}>{mode === "login" ? t("logIn") : t("createAccount")}</button>
      </form>
      <p class="switch">{mode === "login" ? t("needAccount") : t("haveAccount")}</p>
      <button type="button" class="link" onClick={() => { setMode(mode === "login" ? "register" : "login"); setError(null); }}>
        {mode === "login" ? t("createAccount") : t("logIn")}
      </button>
    </main>
  );
}
