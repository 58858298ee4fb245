// The same `.env` reading as the API's `parse_dotenv` (src/domain/credentials.py), so that the
// bulk-import preview shows exactly what the import writes. The page sends the parsed map.
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\", $: "$" };

export class DotenvError extends Error {}

function closingQuote(body: string, quote: string): number {
  let escaped = false;
  for (let i = 0; i < body.length; i += 1) {
    const char = body[i];
    if (quote === '"' && char === "\\" && !escaped) {
      escaped = true;
      continue;
    }
    if (char === quote && !escaped) return i;
    escaped = false;
  }
  return -1;
}

function unescape(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i += 1) {
    const char = raw[i]!;
    if (char === "\\") {
      const next = raw[i + 1] ?? "";
      i += 1;
      out += ESCAPES[next] ?? "\\" + next;
    } else {
      out += char;
    }
  }
  return out;
}

/** KEY=value lines; errors name the line number, never its content. Later lines win. */
export function parseDotenv(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.replace(/\r\n/g, "\n").replace(/\r/g, "\n").split("\n");
  let index = 0;
  while (index < lines.length) {
    const number = index + 1;
    let line = lines[index]!.trim();
    index += 1;
    if (!line || line.startsWith("#")) continue;
    if (line.startsWith("export ") || line.startsWith("export\t")) line = line.slice("export".length).trimStart();
    const eq = line.indexOf("=");
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (eq < 0 || !NAME.test(name)) throw new DotenvError(`Line ${number} is not KEY=value with a POSIX name.`);
    const rest = line.slice(eq + 1).trimStart();
    let value: string;
    if (rest.startsWith("'") || rest.startsWith('"')) {
      const quote = rest[0]!;
      let body = rest.slice(1);
      while (closingQuote(body, quote) < 0 && index < lines.length) {
        body += "\n" + lines[index];
        index += 1;
      }
      const end = closingQuote(body, quote);
      if (end < 0) throw new DotenvError(`Line ${number} has an unterminated quote.`);
      const trailing = body.slice(end + 1).trim();
      if (trailing && !trailing.startsWith("#")) throw new DotenvError(`Line ${number} has text after the closing quote.`);
      const raw = body.slice(0, end);
      value = quote === '"' ? unescape(raw) : raw;
    } else {
      const comment = rest.indexOf(" #");
      value = (comment >= 0 ? rest.slice(0, comment) : rest).trim();
    }
    result.set(name, value);
  }
  return result;
}
