// Blanks out SQL comments and quoted text (keeping offsets and line breaks) so DDL checks see only statements.

export function stripSql(sql: string): string {
  const out = sql.split('');
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < out.length; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      // Postgres block comments nest.
      let depth = 1;
      let k = i + 2;
      while (k < sql.length && depth > 0) {
        if (sql[k] === '/' && sql[k + 1] === '*') {
          depth++;
          k += 2;
        } else if (sql[k] === '*' && sql[k + 1] === '/') {
          depth--;
          k += 2;
        } else k++;
      }
      blank(i, k);
      i = k;
    } else if (c === "'") {
      // E'…' strings also escape with a backslash (E'\''); a lone E before the quote, not the end of a word.
      const escapes = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !/[\w$]/.test(sql[i - 2] ?? '');
      let k = i + 1;
      while (k < sql.length) {
        if (escapes && sql[k] === '\\') k += 2;
        else if (sql[k] === "'" && sql[k + 1] === "'") k += 2;
        else if (sql[k] === "'") break;
        else k++;
      }
      blank(i + 1, k);
      i = k + 1;
    } else if (c === '"') {
      // A quoted identifier is a name: `"it's"` or `"a--b"` opens neither a string nor a comment. Kept as is.
      let k = i + 1;
      while (k < sql.length && !(sql[k] === '"' && sql[k + 1] !== '"')) k += sql[k] === '"' ? 2 : 1;
      i = k + 1;
    } else if (c === '$') {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql);
      if (tag) {
        // Dollar-quoted bodies (functions, DO blocks) are code the guard still has to read. The body is stripped
        // on its own, so a quote or comment marker inside it (`$$it's$$`) cannot swallow what follows the body.
        const start = i + tag[0].length;
        const end = sql.indexOf(tag[0], start);
        const stop = end === -1 ? sql.length : end;
        const body = stripSql(sql.slice(start, stop));
        for (let k = 0; k < body.length; k++) out[start + k] = body[k]!;
        i = end === -1 ? sql.length : end + tag[0].length;
      } else i++;
    } else i++;
  }
  return out.join('');
}

const DOLLAR_TAG = /\$[A-Za-z_]*\$/y;
