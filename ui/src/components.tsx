// Small shared pieces: data loading, error display, form fields, tables.
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { api, get } from './api.ts';
import { useT } from './i18n.ts';

/** Loads a GET path; `reload` fetches again. The caller names the answer's type. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the type of the JSON answer is the caller's claim
export function useLoad<T>(path: string | null): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    get<T>(path).then((d) => { if (live) { setData(d); setError(undefined); } }, (e: unknown) => { if (live) setError(e instanceof Error ? e.message : String(e)); });
    return () => { live = false; };
  }, [path, tick]);
  const reload = useCallback(() => { setTick((n) => n + 1); }, []);
  return { data, error, reload };
}

/** Runs an action and keeps its error or success message. */
export function useAction(): { message: ReactNode; run: (f: () => Promise<unknown>, ok?: string) => Promise<boolean> } {
  const [message, setMessage] = useState<ReactNode>(null);
  const { t } = useT();
  const run = async (f: () => Promise<unknown>, ok?: string): Promise<boolean> => {
    try {
      await f();
      setMessage(ok !== undefined ? <p className="ok" role="status">{ok}</p> : null);
      return true;
    } catch (e) {
      setMessage(<p className="error" role="alert">{t('error')}: {e instanceof Error ? e.message : String(e)}</p>);
      return false;
    }
  };
  return { message, run };
}

export function ErrorText({ error }: { error: string | undefined }): ReactNode {
  return error !== undefined ? <p className="error" role="alert">{error}</p> : null;
}

export function Field({ label, children }: { label: string; children: ReactNode }): ReactNode {
  return <label className="field"><span>{label}</span>{children}</label>;
}

/** Text input bound to a string. */
export function TextInput({ value, onChange, name, type = 'text', placeholder }: { value: string; onChange: (v: string) => void; name: string; type?: string; placeholder?: string }): ReactNode {
  return <input name={name} type={type} value={value} placeholder={placeholder} onChange={(e) => { onChange(e.target.value); }} />;
}

/** A list of strings edited as comma- or line-separated text. */
export function ListInput({ value, onChange, name }: { value: readonly string[]; onChange: (v: string[]) => void; name: string }): ReactNode {
  const [text, setText] = useState(value.join(', '));
  return <input name={name} value={text} onChange={(e) => { setText(e.target.value); onChange(e.target.value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean)); }} />;
}

export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }): ReactNode {
  return (
    <section className="page">
      <header className="page-head"><h1>{title}</h1>{actions}</header>
      {children}
    </section>
  );
}

type Run = (f: () => Promise<unknown>, ok?: string) => Promise<boolean>;

/** Deletes an item after asking, then reloads the list. */
export function DeleteButton({ path, run, reload }: { path: string; run: Run; reload: () => void }): ReactNode {
  const { t } = useT();
  return <button type="button" className="danger" onClick={() => { if (confirm(t('confirmDelete'))) void run(async () => { await api('DELETE', path); reload(); }); }}>{t('delete')}</button>;
}

/** Duplicates an item under an id the admin types, then reloads the list. */
export function DuplicateButton({ path, id, run, reload }: { path: string; id: string; run: Run; reload: () => void }): ReactNode {
  const { t } = useT();
  return <button type="button" onClick={() => { const newId = prompt(t('id'), `${id}-copy`); if (newId !== null) void run(async () => { await api('POST', `${path}/duplicate`, { newId }); reload(); }); }}>{t('duplicate')}</button>;
}
