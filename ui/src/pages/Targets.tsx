import { useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { DeleteButton, DuplicateButton, ErrorText, Field, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

interface TargetRow { id: string; name: string; kind: string; pathTemplate: string; status: string; lastTest: { ok: boolean; stage?: string; message: string; durationMs: number } | null; config: Record<string, unknown> }
type Kind = 'local' | 'sftp' | 'smb' | 's3' | 'onedrive';
type FieldLabel = 'path' | 'host' | 'port' | 'user' | 'password' | 'hostKey' | 'folder' | 'share' | 'domain' | 'endpoint' | 'region' | 'bucket' | 'accessKeyId'
  | 'secretAccessKey' | 'pathStyle' | 'prefix' | 'lockMode' | 'checksumSha256' | 'signInKind' | 'tenant' | 'clientId' | 'clientSecret' | 'certificatePem'
  | 'privateKeyPem' | 'driveId' | 'siteId' | 'userId' | 'retentionLabel' | 'authorityHost' | 'graphBaseUrl';
interface FieldSpec { key: string; label: FieldLabel; type?: 'text' | 'number' | 'password' | 'bool' | 'select' | 'textarea'; options?: readonly string[]; initial?: string }
const FIELDS: Record<Kind, readonly FieldSpec[]> = {
  local: [{ key: 'path', label: 'path' }],
  sftp: [{ key: 'host', label: 'host' }, { key: 'port', label: 'port', type: 'number' }, { key: 'username', label: 'user' }, { key: 'password', label: 'password', type: 'password' }, { key: 'hostKeySha256', label: 'hostKey' }, { key: 'folder', label: 'folder' }],
  smb: [{ key: 'host', label: 'host' }, { key: 'port', label: 'port', type: 'number' }, { key: 'share', label: 'share' }, { key: 'username', label: 'user' }, { key: 'password', label: 'password', type: 'password' }, { key: 'domain', label: 'domain' }, { key: 'folder', label: 'folder' }],
  s3: [
    { key: 'endpoint', label: 'endpoint' }, { key: 'region', label: 'region', initial: 'us-east-1' }, { key: 'bucket', label: 'bucket' }, { key: 'accessKeyId', label: 'accessKeyId' },
    { key: 'secretAccessKey', label: 'secretAccessKey', type: 'password' }, { key: 'lockMode', label: 'lockMode', type: 'select', options: ['COMPLIANCE', 'GOVERNANCE', 'none'] },
    { key: 'prefix', label: 'prefix' }, { key: 'pathStyle', label: 'pathStyle', type: 'bool', initial: 'true' }, { key: 'checksumSha256', label: 'checksumSha256', type: 'bool' },
  ],
  onedrive: [
    { key: 'signIn', label: 'signInKind', type: 'select', options: ['app', 'user'] }, { key: 'tenant', label: 'tenant' }, { key: 'clientId', label: 'clientId' },
    { key: 'clientSecret', label: 'clientSecret', type: 'password' }, { key: 'certificatePem', label: 'certificatePem', type: 'textarea' }, { key: 'privateKeyPem', label: 'privateKeyPem', type: 'textarea' },
    { key: 'siteId', label: 'siteId' }, { key: 'driveId', label: 'driveId' }, { key: 'userId', label: 'userId' }, { key: 'folder', label: 'folder' }, { key: 'retentionLabel', label: 'retentionLabel' },
    { key: 'authorityHost', label: 'authorityHost', initial: 'https://login.microsoftonline.com' }, { key: 'graphBaseUrl', label: 'graphBaseUrl', initial: 'https://graph.microsoft.com/v1.0' },
  ],
};

/** What a target guarantees against deletion before the retention ends (docs/archive.md). */
function guarantee(x: TargetRow): string {
  if (x.kind === 's3') return x.config['lockMode'] === 'COMPLIANCE' ? 'WORM' : x.config['lockMode'] === 'GOVERNANCE' ? 'WORM (GOVERNANCE: bypassable)' : '';
  if (x.kind === 'onedrive') return typeof x.config['retentionLabel'] === 'string' ? `label: ${x.config['retentionLabel']}` : '';
  return '';
}

function initialConfig(kind: Kind): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FIELDS[kind]) {
    if (f.initial !== undefined) out[f.key] = f.initial;
    else if (f.type === 'select' && f.options?.[0] !== undefined) out[f.key] = f.options[0];
  }
  return out;
}

/** Storage targets (F3): credentials go in, never come back (F5); "test" writes and removes a file. */
export function Targets(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<TargetRow[]>('/api/targets');
  const [form, setForm] = useState<{ id: string; name: string; pathTemplate: string; kind: Kind; config: Record<string, string> } | null>(null);
  const { message, run } = useAction();
  const [signIn, setSignIn] = useState<{ id: string; text: string } | null>(null);
  const startSignIn = (id: string): void => {
    void run(async () => {
      const p = await api<{ userCode: string; verificationUri: string; message: string }>('POST', `/api/targets/${encodeURIComponent(id)}/sign-in`);
      setSignIn({ id, text: p.message });
    });
  };
  const save = (): void => {
    if (!form) return;
    const config: Record<string, unknown> = { kind: form.kind };
    for (const f of FIELDS[form.kind]) {
      const v = form.config[f.key] ?? '';
      if (f.type === 'bool') config[f.key] = v === 'true';
      else if (v !== '') config[f.key] = f.type === 'number' ? Number(v) : v;
    }
    void run(async () => { await api('PUT', `/api/targets/${encodeURIComponent(form.id)}`, { name: form.name, pathTemplate: form.pathTemplate, config }); setForm(null); reload(); });
  };
  return (
    <Page title={t('targets')} actions={<button type="button" onClick={() => { setForm({ id: '', name: '', pathTemplate: '$Y/$M/$D', kind: 'local', config: {} }); }}>{t('add')}</button>}>
      <ErrorText error={error} />
      {form && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          <Field label={t('id')}><TextInput name="id" value={form.id} onChange={(v) => { setForm({ ...form, id: v }); }} /></Field>
          <Field label={t('name')}><TextInput name="name" value={form.name} onChange={(v) => { setForm({ ...form, name: v }); }} /></Field>
          <Field label={t('kind')}>
            <select name="kind" value={form.kind} onChange={(e) => { const kind = e.target.value as Kind; setForm({ ...form, kind, config: initialConfig(kind) }); }}>
              <option value="local">local</option><option value="sftp">SFTP</option><option value="smb">SMB/CIFS</option>
              <option value="s3">S3 (Object Lock)</option><option value="onedrive">OneDrive / SharePoint</option>
            </select>
          </Field>
          {FIELDS[form.kind].map((f) => {
            const value = form.config[f.key] ?? '';
            const set = (v: string): void => { setForm({ ...form, config: { ...form.config, [f.key]: v } }); };
            if (f.type === 'bool') return <label key={f.key} className="check"><input type="checkbox" name={f.key} checked={value === 'true'} onChange={(e) => { set(String(e.target.checked)); }} /> {t(f.label)}</label>;
            return (
              <Field key={f.key} label={t(f.label)}>
                {f.type === 'select'
                  ? <select name={f.key} value={value} onChange={(e) => { set(e.target.value); }}>{f.options?.map((o) => <option key={o} value={o}>{o}</option>)}</select>
                  : f.type === 'textarea'
                    ? <textarea name={f.key} rows={4} value={value} onChange={(e) => { set(e.target.value); }} />
                    : <TextInput name={f.key} type={f.type ?? 'text'} value={value} onChange={set} />}
              </Field>
            );
          })}
          <Field label={`${t('pathTemplate')} ($Y $M $D $h $m $s)`}><TextInput name="pathTemplate" value={form.pathTemplate} onChange={(v) => { setForm({ ...form, pathTemplate: v }); }} /></Field>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setForm(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      {message}
      {signIn && <p className="notice" data-testid="sign-in-code">{signIn.id}: {signIn.text} <button type="button" onClick={() => { setSignIn(null); reload(); }}>{t('close')}</button></p>}
      <div className="table-wrap">
        <table data-testid="targets-table">
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('kind')}</th><th>{t('pathTemplate')}</th><th>{t('status')}</th><th /></tr></thead>
          <tbody>
            {data?.map((x) => (
              <tr key={x.id}>
                <td>{x.id}</td><td>{x.name}</td><td>{x.kind}{guarantee(x) !== '' && <span className="muted"> ({guarantee(x)})</span>}</td><td>{x.pathTemplate}</td>
                <td className={x.status === 'ok' ? 'ok' : x.status === 'failed' ? 'error' : ''}>{x.status}{x.lastTest && !x.lastTest.ok && `: ${x.lastTest.stage ?? ''} ${x.lastTest.message}`}{x.lastTest && <span className="muted"> ({x.lastTest.durationMs} ms)</span>}</td>
                <td className="actions">
                  <button type="button" onClick={() => { void run(async () => { await api('POST', `/api/targets/${encodeURIComponent(x.id)}/test`); reload(); }); }}>{t('test')}</button>
                  {x.kind === 'onedrive' && x.config['signIn'] === 'user' && <button type="button" onClick={() => { startSignIn(x.id); }}>{t('signIn')}</button>}
                  <DuplicateButton path={`/api/targets/${encodeURIComponent(x.id)}`} id={x.id} run={run} reload={reload} />
                  <DeleteButton path={`/api/targets/${encodeURIComponent(x.id)}`} run={run} reload={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

/** External SQL recording logs (G2): test connection, create table. */
export function SqlLogs(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<Record<string, unknown>[]>('/api/sql-logs');
  const [form, setForm] = useState<Record<string, string> | null>(null);
  const { message, run } = useAction();
  const save = (): void => {
    if (!form) return;
    const { id = '', port = '', ...rest } = form;
    void run(async () => { await api('PUT', `/api/sql-logs/${encodeURIComponent(id)}`, { ...rest, ...(port !== '' ? { port: Number(port) } : {}) }); setForm(null); reload(); });
  };
  const field = (key: string, label: Parameters<typeof t>[0], type = 'text'): ReactNode => form && (
    <Field label={t(label)}><TextInput name={key} type={type} value={form[key] ?? ''} onChange={(v) => { setForm({ ...form, [key]: v }); }} /></Field>
  );
  return (
    <Page title={t('sqlLogs')} actions={<button type="button" onClick={() => { setForm({ dialect: 'postgres', host: '127.0.0.1', table: 'callseal_recordings' }); }}>{t('add')}</button>}>
      <ErrorText error={error} />
      {form && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          {field('id', 'id')}{field('name', 'name')}
          <Field label={t('dialect')}>
            <select name="dialect" value={form['dialect']} onChange={(e) => { setForm({ ...form, dialect: e.target.value }); }}>
              <option value="postgres">PostgreSQL</option><option value="mysql">MySQL / MariaDB</option><option value="mssql">SQL Server</option><option value="sqlite">SQLite</option>
            </select>
          </Field>
          {field('host', 'host')}{field('port', 'port', 'number')}{field('database', 'database')}{field('user', 'user')}{field('password', 'password', 'password')}{field('table', 'table')}
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setForm(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      {message}
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('dialect')}</th><th>{t('table')}</th><th>{t('status')}</th><th /></tr></thead>
          <tbody>
            {data?.map((x) => {
              const id = String(x['id']);
              return (
                <tr key={id}>
                  <td>{id}</td><td>{String(x['name'])}</td><td>{String(x['dialect'])}</td><td>{String(x['table'])}</td><td>{String(x['status'])}</td>
                  <td className="actions">
                    <button type="button" onClick={() => { void run(async () => { await api('POST', `/api/sql-logs/${encodeURIComponent(id)}/test`); reload(); }); }}>{t('test')}</button>
                    <button type="button" onClick={() => { void run(async () => { await api('POST', `/api/sql-logs/${encodeURIComponent(id)}/create-table`); reload(); }, t('saved')); }}>{t('createTable')}</button>
                    <DeleteButton path={`/api/sql-logs/${encodeURIComponent(id)}`} run={run} reload={reload} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

interface AlertsView { configured: boolean; source: 'ui' | 'file' | 'none'; host?: string; port?: number; secure?: boolean; user?: string; password?: string; from?: string; to: string[] }

/** E-mail alerts (F4): SMTP server and recipients (stored sealed; they replace the file's), test mail. */
export function Alerts(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<AlertsView>('/api/alerts');
  const { message, run } = useAction();
  const [form, setForm] = useState<{ host: string; port: string; secure: boolean; user: string; password: string; from: string; to: string } | null>(null);
  const edit = (): void => {
    setForm({ host: data?.host ?? '', port: String(data?.port ?? 25), secure: data?.secure ?? false, user: data?.user ?? '', password: '', from: data?.from ?? '', to: (data?.to ?? []).join(', ') });
  };
  const save = (): void => {
    if (!form) return;
    const body = {
      host: form.host, port: Number(form.port), secure: form.secure, from: form.from, to: form.to.split(/[,\s]+/).filter(Boolean),
      ...(form.user !== '' ? { user: form.user } : {}), ...(form.password !== '' ? { password: form.password } : {}),
    };
    void run(async () => { await api('PUT', '/api/alerts', body); setForm(null); reload(); }, t('saved'));
  };
  return (
    <Page title={t('alerts')} actions={<button type="button" onClick={edit}>{t('edit')}</button>}>
      <ErrorText error={error} />
      {data && (data.configured ? (
        <dl className="facts" data-testid="alerts">
          <dt>{t('smtpServer')}</dt><dd>{data.host}:{data.port}{data.secure ? ' (TLS)' : ''}</dd><dt>{t('user')}</dt><dd>{data.user ?? '-'}</dd>
          <dt>{t('sender')}</dt><dd>{data.from}</dd><dt>{t('recipients')}</dt><dd>{data.to.join(', ')}</dd>
          <dt>{t('source')}</dt><dd>{data.source === 'ui' ? t('sourceUi') : t('sourceFile')}</dd>
        </dl>
      ) : <p>{t('notConfigured')}</p>)}
      {form && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          <Field label={t('smtpServer')}><TextInput name="host" value={form.host} onChange={(v) => { setForm({ ...form, host: v }); }} /></Field>
          <Field label={t('port')}><TextInput name="port" type="number" value={form.port} onChange={(v) => { setForm({ ...form, port: v }); }} /></Field>
          <label className="check"><input type="checkbox" name="secure" checked={form.secure} onChange={(e) => { setForm({ ...form, secure: e.target.checked }); }} /> {t('tlsOnConnect')}</label>
          <Field label={t('user')}><TextInput name="user" value={form.user} onChange={(v) => { setForm({ ...form, user: v }); }} /></Field>
          <Field label={`${t('password')} (${t('passwordKept')})`}><TextInput name="password" type="password" value={form.password} onChange={(v) => { setForm({ ...form, password: v }); }} /></Field>
          <Field label={t('sender')}><TextInput name="from" value={form.from} onChange={(v) => { setForm({ ...form, from: v }); }} /></Field>
          <Field label={t('recipients')}><TextInput name="to" value={form.to} onChange={(v) => { setForm({ ...form, to: v }); }} /></Field>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setForm(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      <div className="actions">
        <button type="button" onClick={() => { void run(async () => { const r = await api<{ sent: boolean }>('POST', '/api/alerts/test'); if (!r.sent) throw new Error(t('notConfigured')); }, t('sent')); }}>{t('sendTest')}</button>
        {data?.source === 'ui' && <button type="button" onClick={() => { void run(async () => { await api('DELETE', '/api/alerts'); reload(); }); }}>{t('useFile')}</button>}
      </div>
      {message}
    </Page>
  );
}
