import { useEffect, useState, type ReactNode } from 'react';
import { duration, when } from '../api.ts';
import { Page } from '../components.tsx';
import { useT } from '../i18n.ts';

interface LiveItem {
  id: string; callId: string; mode: 'siprec' | 'inline'; startMs: number; durationMs: number; caller: { number: string; name: string }; callee: { number: string; name: string };
  setting: string; streams: number; packets: number; lost: number; lossPercent: number;
}

/** Running recordings (H2), pushed by the server as server-sent events. */
export function Live(): ReactNode {
  const { t, lang } = useT();
  const [items, setItems] = useState<LiveItem[]>([]);
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/live/events');
    source.addEventListener('live', (e) => { setItems(JSON.parse((e as MessageEvent<string>).data) as LiveItem[]); setConnected(true); });
    source.onerror = () => { setConnected(false); };
    return () => { source.close(); };
  }, []);
  return (
    <Page title={t('running')} actions={<span className={connected ? 'dot on' : 'dot'} aria-label={connected ? t('connected') : t('disconnected')} />}>
      {items.length === 0 ? <p>{t('noLive')}</p> : (
        <div className="table-wrap">
          <table data-testid="live-table">
            <thead><tr><th>{t('started')}</th><th>{t('mode')}</th><th>{t('caller')}</th><th>{t('callee')}</th><th>{t('setting')}</th><th>{t('duration')}</th><th>{t('packets')}</th><th>{t('loss')}</th></tr></thead>
            <tbody>
              {items.map((i) => (
                <tr key={i.id}>
                  <td>{when(i.startMs, lang)}</td>
                  <td data-testid="live-mode" data-mode={i.mode}><span className={`badge mode-${i.mode}`}>{i.mode === 'inline' ? t('modeInline') : t('modeSiprec')}</span></td>
                  <td>{i.caller.name} <span className="num">{i.caller.number}</span></td>
                  <td>{i.callee.name} <span className="num">{i.callee.number}</span></td>
                  <td>{i.setting}</td>
                  <td>{duration(i.durationMs)}</td>
                  <td>{i.packets}</td>
                  <td>{i.lossPercent} %</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
