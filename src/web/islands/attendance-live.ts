/**
 * The live list and the projector (/teach/…/sessions/…): one EventSource on the page's stream.
 * `checkin` rows are added (or replaced: a mark changes a row) in the list; `code` swaps the
 * projector's QR for the server's drawing of the new code (the projector never computes a code:
 * its clock does not matter); `ended` says so. EventSource reconnects by itself; every reconnect
 * begins with a snapshot, so nothing is missed while the network was away.
 */
interface Row {
  user_id: string;
  username: string;
  full_name: string | null;
  status: string;
  method: string;
  flags: string[];
  at: string;
  count?: number;
}

const STATUS_WORDS: Record<string, string> = { present: 'Present', late: 'Late', absent: 'Absent', excused: 'Excused' };
const FLAG_WORDS: Record<string, string> = { shared_device: 'Shared device', walk_in: 'Walk-in' };

const list = document.getElementById('live');
const projector = document.getElementById('projector');
const root = list ?? projector;

function cell(...children: (Node | string)[]): HTMLTableCellElement {
  const td = document.createElement('td');
  td.append(...children);
  return td;
}

function tag(text: string, className: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = className;
  span.textContent = text;
  return span;
}

function rowOf(row: Row): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.user = row.user_id;
  const status = cell(tag(STATUS_WORDS[row.status] ?? row.status, `tag status-${row.status}`));
  for (const flag of row.flags) status.append(' ', tag(FLAG_WORDS[flag] ?? flag, 'tag flag'));
  const time = document.createElement('time');
  time.dateTime = row.at;
  time.textContent = `${row.at.slice(11, 16)} UTC`;
  tr.append(cell(row.full_name ?? row.username), cell(row.username), status, cell(time), cell(row.method));
  return tr;
}

if (root !== null && typeof EventSource === 'function') {
  const url = root.dataset.stream ?? '';
  const body = document.querySelector<HTMLTableSectionElement>('#live-list tbody');
  const count = document.getElementById(projector === null ? 'live-count' : 'projector-count');
  const status = document.getElementById('live-status');
  const code = document.getElementById('projector-code');
  const qrUrl = projector?.dataset.qr ?? '';

  const setCount = (n: unknown) => {
    if (count !== null && typeof n === 'number') count.textContent = String(n);
  };
  const put = (row: Row) => {
    if (body === null) return;
    const existing = body.querySelector(`tr[data-user="${CSS.escape(row.user_id)}"]`);
    const fresh = rowOf(row);
    if (existing === null) body.append(fresh);
    else existing.replaceWith(fresh);
  };

  const source = new EventSource(url, { withCredentials: true });
  source.addEventListener('snapshot', (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { checkins: Row[]; count: number };
    if (body !== null) body.replaceChildren(...data.checkins.map(rowOf));
    setCount(data.count);
    if (status !== null) status.textContent = 'Live: new check-ins appear here by themselves.';
  });
  source.addEventListener('checkin', (event) => {
    const row = JSON.parse((event as MessageEvent<string>).data) as Row;
    put(row);
    setCount(row.count);
  });
  source.addEventListener('code', (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { step: number; count: number };
    setCount(data.count);
    if (code === null || qrUrl === '') return;
    // The server's own drawing of the code of this step (an SVG of ours, no user text in it).
    void fetch(`${qrUrl}?step=${data.step}`, { credentials: 'same-origin', cache: 'no-store' })
      .then((response) => (response.ok ? response.text() : null))
      .then((svg) => {
        if (svg === null) return;
        const parsed = new DOMParser().parseFromString(svg, 'image/svg+xml').documentElement;
        if (parsed.nodeName.toLowerCase() === 'svg') code.replaceChildren(document.importNode(parsed, true));
      })
      .catch(() => undefined);
  });
  source.addEventListener('ended', () => {
    source.close();
    if (status !== null) status.textContent = 'The session has ended.';
    if (code !== null) code.replaceChildren(tag('The session has ended.', 'projector-ended'));
  });
  source.addEventListener('error', () => {
    if (status !== null) status.textContent = 'Reconnecting…';
  });

  const full = document.getElementById('projector-full') as HTMLButtonElement | null;
  if (full !== null && projector !== null && typeof projector.requestFullscreen === 'function') {
    full.hidden = false;
    full.addEventListener('click', () => void projector.requestFullscreen().catch(() => undefined));
  }
}
