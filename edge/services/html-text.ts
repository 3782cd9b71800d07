/**
 * The plain-text part of a message given only HTML (RFC 2046 multipart/alternative wants both).
 *
 * Why not a library: the well-kept one (`html-to-text`) is in node_modules only as a dependency
 * of mailparser, not one of ours, and pulls a DOM parser into the Worker bundle. Mail HTML needs
 * little: drop what is not shown (head, style, script, comments), break lines at block elements,
 * keep link targets (`text (url)`, the way mail clients show them), list items as `- `, decode
 * entities, collapse whitespace. A careful tag scanner does that in one pass.
 */

const DROPPED = /<(head|style|script|title|template|noscript)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const BLOCK = new Set(['p', 'div', 'section', 'article', 'header', 'footer', 'table', 'tr', 'ul', 'ol', 'blockquote', 'pre', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'center', 'main', 'nav', 'aside', 'form', 'dl', 'dt', 'dd']);
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', reg: '®', hellip: '…', mdash: '—', ndash: '–', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', euro: '€', trade: '™', middot: '·', bull: '•' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}

function attribute(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? decodeEntities(m[2] ?? m[3] ?? m[4] ?? '') : null;
}

export function htmlToText(html: string): string {
  const source = html.replace(/<!--[\s\S]*?-->/g, '').replace(DROPPED, '');
  const out: string[] = [];
  const links: Array<{ href: string | null; start: number }> = [];
  let pre = 0;
  const tagRe = /<\/?([a-z][a-z0-9]*)\b[^>]*>/gi;
  let last = 0;
  const pushText = (raw: string) => {
    const text = decodeEntities(raw);
    out.push(pre > 0 ? text : text.replace(/\s+/g, ' '));
  };
  /** Ends the text so far with at least `lines` line breaks: nested blocks (table, tr) do not stack blank lines. */
  const breakLine = (lines: number) => {
    const tail = /\n*$/.exec(out.join('').replace(/[ \t]+$/, ''))![0].length;
    for (let i = tail; i < lines; i++) out.push('\n');
  };
  for (let m = tagRe.exec(source); m; m = tagRe.exec(source)) {
    pushText(source.slice(last, m.index));
    last = tagRe.lastIndex;
    const tag = m[0];
    const name = m[1].toLowerCase();
    const closing = tag[1] === '/';
    if (name === 'br') out.push('\n');
    else if (name === 'li' && !closing) out.push('\n- ');
    else if (name === 'td' || name === 'th') out.push(closing ? ' ' : '');
    else if (name === 'img' && !closing) {
      const alt = attribute(tag, 'alt');
      if (alt) out.push(alt);
    } else if (name === 'a') {
      if (!closing) links.push({ href: attribute(tag, 'href'), start: out.length });
      else {
        const link = links.pop();
        const shown = link ? out.slice(link.start).join('').trim() : '';
        // Show the target unless the text already is it (or it is only a fragment or mailto).
        if (link?.href && /^https?:/i.test(link.href) && shown !== link.href) out.push(` (${link.href})`);
      }
    } else if (BLOCK.has(name)) {
      if (name === 'pre') pre += closing ? -1 : 1;
      breakLine(name === 'p' || /^h\d$/.test(name) || name === 'hr' ? 2 : 1);
    }
  }
  pushText(source.slice(last));
  return out
    .join('')
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/g, '').replace(/^[ \t]+(?!- )/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
