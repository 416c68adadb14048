// Tiny DOM helper: h('p', {class: 'x'}, 'text', child) — text is always inserted as text, never HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat(Infinity)) if (child) el.append(child);
  return el;
}

export function shortHex(text, keep = 10) {
  const s = String(text);
  return s.length > keep * 2 + 1 ? `${s.slice(0, keep)}…${s.slice(-6)}` : s;
}

/** A unix time (seconds) as a local date-time string with the time zone named. */
export function localTime(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'long' });
}

export function duration(seconds) {
  let s = Number(seconds);
  const parts = [];
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]]) {
    const n = Math.floor(s / size);
    if (n) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
    s -= n * size;
  }
  return parts.join(' ') || '0 seconds';
}
