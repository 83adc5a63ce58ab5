// The shell: login, navigation by role (staff never see administration, H1), language switch, hash routing.
import { useEffect, useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, get, setCsrf, ApiError } from './api.ts';
import { initialLang, LangContext, LANGUAGES, useT, type Key, type Lang } from './i18n.ts';
import { Dashboard } from './pages/Dashboard.tsx';
import { Live } from './pages/Live.tsx';
import { Recordings } from './pages/Recordings.tsx';
import { Settings, ExceptionLists } from './pages/Settings.tsx';
import { Directory } from './pages/Directory.tsx';
import { Targets, SqlLogs, Alerts } from './pages/Targets.tsx';
import { Certificate } from './pages/Certificate.tsx';
import { Accounts, Audit, MyGroups } from './pages/Accounts.tsx';
import { Holds } from './pages/Holds.tsx';
import { Webhooks } from './pages/Webhooks.tsx';

export interface Me {
  username: string;
  displayName: string;
  roles: ('admin' | 'auditor' | 'member')[];
  csrf: string | null;
}

type Role = Me['roles'][number];
interface Route { path: string; label: Key; roles: readonly Role[]; page: (me: Me) => ReactNode }

const ROUTES: readonly Route[] = [
  { path: 'dashboard', label: 'dashboard', roles: ['admin', 'auditor'], page: () => <Dashboard /> },
  { path: 'live', label: 'live', roles: ['admin', 'auditor'], page: () => <Live /> },
  { path: 'recordings', label: 'recordings', roles: ['auditor'], page: () => <Recordings /> },
  { path: 'holds', label: 'holds', roles: ['admin', 'auditor'], page: (me) => <Holds me={me} /> },
  { path: 'settings', label: 'settings', roles: ['admin'], page: () => <Settings /> },
  { path: 'directory', label: 'directory', roles: ['admin'], page: () => <Directory /> },
  { path: 'exceptions', label: 'exceptionLists', roles: ['admin'], page: () => <ExceptionLists /> },
  { path: 'targets', label: 'targets', roles: ['admin'], page: () => <Targets /> },
  { path: 'sql-logs', label: 'sqlLogs', roles: ['admin'], page: () => <SqlLogs /> },
  { path: 'alerts', label: 'alerts', roles: ['admin'], page: () => <Alerts /> },
  { path: 'webhooks', label: 'webhooks', roles: ['admin'], page: () => <Webhooks /> },
  { path: 'accounts', label: 'accounts', roles: ['admin'], page: (me) => <Accounts me={me} /> },
  { path: 'audit', label: 'audit', roles: ['auditor'], page: () => <Audit /> },
  { path: 'my-groups', label: 'myGroups', roles: ['member'], page: () => <MyGroups /> },
  { path: 'certificate', label: 'certificate', roles: ['admin', 'auditor', 'member'], page: (me) => <Certificate me={me} /> },
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash.replace(/^#\/?/, ''));
  useEffect(() => {
    const on = (): void => { setHash(location.hash.replace(/^#\/?/, '')); };
    window.addEventListener('hashchange', on);
    return () => { window.removeEventListener('hashchange', on); };
  }, []);
  return hash;
}

function Login({ onLogin }: { onLogin: (me: Me) => void }): ReactNode {
  const { t } = useT();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: SyntheticEvent): Promise<void> => {
    e.preventDefault();
    try {
      const me = await api<Me>('POST', '/api/session', { username, password });
      setCsrf(me.csrf);
      onLogin(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t('wrongLogin') : err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form className="login" onSubmit={(e) => { void submit(e); }}>
      <h1>callseal</h1>
      <label className="field"><span>{t('username')}</span><input name="username" autoComplete="username" value={username} onChange={(e) => { setUsername(e.target.value); }} /></label>
      <label className="field"><span>{t('password')}</span><input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => { setPassword(e.target.value); }} /></label>
      {error !== undefined && <p className="error" role="alert">{error}</p>}
      <button type="submit">{t('login')}</button>
    </form>
  );
}

function LangSwitch({ lang, setLang }: { lang: Lang; setLang: (l: Lang) => void }): ReactNode {
  const { t } = useT();
  return (
    <select aria-label={t('language')} name="language" value={lang} onChange={(e) => { const l = e.target.value as Lang; localStorage.setItem('callseal.lang', l); setLang(l); }}>
      {(Object.keys(LANGUAGES) as Lang[]).map((l) => <option key={l} value={l}>{l.toUpperCase()}</option>)}
    </select>
  );
}

export function App(): ReactNode {
  const [lang, setLang] = useState<Lang>(initialLang);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [menuOpen, setMenuOpen] = useState(false);
  const hash = useHash();
  useEffect(() => { document.documentElement.lang = lang; }, [lang]);
  useEffect(() => {
    get<Me>('/api/me').then((m) => { setCsrf(m.csrf); setMe(m); }, () => { setMe(null); });
  }, []);

  const t = (k: Key): string => LANGUAGES[lang][k];
  if (me === undefined) return null;
  if (me === null) {
    return <LangContext.Provider value={lang}><div className="login-wrap"><LangSwitch lang={lang} setLang={setLang} /><Login onLogin={setMe} /></div></LangContext.Provider>;
  }
  const allowed = ROUTES.filter((r) => r.roles.some((role) => me.roles.includes(role)));
  const route = allowed.find((r) => r.path === hash) ?? allowed[0];
  const logout = async (): Promise<void> => {
    await api('DELETE', '/api/session').catch(() => undefined);
    setCsrf(null);
    setMe(null);
  };
  return (
    <LangContext.Provider value={lang}>
      <div className="shell">
        <header className="top">
          <button type="button" className="menu-button" aria-expanded={menuOpen} onClick={() => { setMenuOpen(!menuOpen); }}>{t('menu')}</button>
          <strong className="brand">callseal</strong>
          <span className="who">{t('loggedInAs')} <b>{me.displayName}</b> ({me.roles.join(', ')})</span>
          <LangSwitch lang={lang} setLang={setLang} />
          <button type="button" onClick={() => { void logout(); }}>{t('logout')}</button>
        </header>
        <nav className={menuOpen ? 'side open' : 'side'} aria-label="main">
          {allowed.map((r) => (
            <a key={r.path} href={`#/${r.path}`} className={r === route ? 'current' : ''} onClick={() => { setMenuOpen(false); }}>{t(r.label)}</a>
          ))}
        </nav>
        <main>{route?.page(me)}</main>
      </div>
    </LangContext.Provider>
  );
}
