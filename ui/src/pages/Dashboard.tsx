import { useEffect, type ReactNode } from 'react';
import { bytes, when } from '../api.ts';
import { ErrorText, Page, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

interface DashboardData {
  version: string;
  sip: { listening: { udp: number; tcp?: number; tls?: number }; stats: Record<string, number> };
  live: number;
  recordings: { today: number; total: number };
  disk: { freeBytes: number; totalBytes: number; freePercent: number; warn: boolean };
  outbox: { pending: number };
  failingTargets: { id: string; since: number | null; error: string | null }[];
  lastErrors: { atMs: number; message: string }[];
}

export function Dashboard(): ReactNode {
  const { t, lang } = useT();
  const { data, error, reload } = useLoad<DashboardData>('/api/dashboard');
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => { clearInterval(timer); };
  }, [reload]);
  return (
    <Page title={t('dashboard')}>
      <ErrorText error={error} />
      {data && (
        <>
          {data.disk.warn && <p className="error" role="alert">{t('diskWarning')}: {data.disk.freePercent} %</p>}
          <div className="cards">
            <div className="card"><h2>{t('sipListener')}</h2><p className="big">UDP {data.sip.listening.udp}</p><p>TCP {data.sip.listening.tcp ?? '-'} · TLS {data.sip.listening.tls ?? '-'}</p></div>
            <div className="card"><h2>{t('running')}</h2><p className="big" data-testid="live-count">{data.live}</p></div>
            <div className="card"><h2>{t('recordingsToday')}</h2><p className="big" data-testid="today">{data.recordings.today}</p><p>{t('totalSealed')}: {data.recordings.total}</p></div>
            <div className={data.disk.warn ? 'card warn' : 'card'}><h2>{t('diskFree')}</h2><p className="big">{data.disk.freePercent} %</p><p>{bytes(data.disk.freeBytes)} / {bytes(data.disk.totalBytes)}</p></div>
            <div className="card"><h2>{t('outboxBacklog')}</h2><p className="big">{data.outbox.pending}</p></div>
            <div className={data.failingTargets.length > 0 ? 'card warn' : 'card'}><h2>{t('failingTargets')}</h2>
              {data.failingTargets.length === 0 ? <p>{t('none')}</p> : <ul>{data.failingTargets.map((f) => <li key={f.id}><b>{f.id}</b>: {f.error}</li>)}</ul>}
            </div>
          </div>
          <h2>{t('lastErrors')}</h2>
          {data.lastErrors.length === 0 ? <p>{t('none')}</p> : <ul className="errors">{data.lastErrors.map((e, i) => <li key={i}>{when(e.atMs, lang)}: {e.message}</li>)}</ul>}
          <p className="muted">{t('version')} {data.version}</p>
        </>
      )}
    </Page>
  );
}
