/**
 * Which character separates the input's columns. Spreadsheets save "CSV" with `,` or,
 * where the decimal mark is a comma (most of Europe), with `;`; "Text (tab delimited)"
 * uses tabs. The delimiter is read from the header line: the candidate that occurs most
 * often outside quotes wins (`,` on a tie or when there is none: a one-column file).
 * Excel's `sep=;` first line names it outright and is not a header. `--delimiter`
 * forces one.
 */
import { ConfigError } from '../errors.js';

export const DETECTED_DELIMITERS = [',', ';', '\t'] as const;

const NAMES: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };

/** The values --delimiter takes, by what an operator types. */
const FLAG_VALUES: Record<string, string> = {
  ',': ',',
  comma: ',',
  ';': ';',
  semicolon: ';',
  '\t': '\t',
  '\\t': '\t',
  tab: '\t',
  '|': '|',
  pipe: '|',
};

export type DelimiterSource = 'header' | 'option' | 'sep-line';

export interface Delimiter {
  char: string;
  from: DelimiterSource;
  /** The file starts with a `sep=` line, which is not the header. */
  sepLine: boolean;
}

/** `";" (semicolon)`, `tab`. */
export function describeDelimiter(char: string): string {
  if (char === '\t') return 'tab';
  return `"${char}"${NAMES[char] ? ` (${NAMES[char]})` : ''}`;
}

/** Where it came from, for messages: "detected from the header". */
export function describeDelimiterSource(from: DelimiterSource): string {
  return from === 'option' ? 'from --delimiter' : from === 'sep-line' ? 'from the file\'s sep= line' : 'detected from the header';
}

/** --delimiter's value (`,` `;` `tab` `|`, or their names) as the character; a ConfigError otherwise. */
export function parseDelimiterFlag(value: string): string {
  const char = FLAG_VALUES[value] ?? FLAG_VALUES[value.trim().toLowerCase()];
  if (!char) {
    throw new ConfigError([`--delimiter: expected one of , ; tab | (or comma, semicolon, pipe), got ${JSON.stringify(value)}`]);
  }
  return char;
}

/** The first line of `head` (the file's first bytes) as text, without BOM and line ending. */
function firstLine(head: Buffer): string {
  let text = head.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const lf = text.indexOf('\n');
  const line = lf === -1 ? text : text.slice(0, lf);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** How often each candidate occurs outside double quotes. */
function counts(line: string): Map<string, number> {
  const n = new Map<string, number>(DETECTED_DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && n.has(c)) n.set(c, n.get(c)! + 1);
  }
  return n;
}

/**
 * The delimiter for a file whose first bytes are `head` (at least its first line, when
 * the file has one that fits), `forced` from --delimiter when given.
 */
export function chooseDelimiter(head: Buffer, forced?: string): Delimiter {
  const line = firstLine(head);
  const sep = /^sep=(.)$/i.exec(line);
  const sepChar = sep && (sep[1] === '|' || (DETECTED_DELIMITERS as readonly string[]).includes(sep[1]!)) ? sep[1]! : undefined;
  const sepLine = sepChar !== undefined;
  if (forced) return { char: forced, from: 'option', sepLine };
  if (sepChar) return { char: sepChar, from: 'sep-line', sepLine };
  let best: string = ',';
  let most = 0;
  for (const [d, k] of counts(line)) {
    if (k > most) {
      best = d;
      most = k;
    }
  }
  return { char: best, from: 'header', sepLine: false };
}

/**
 * A header read as one cell that holds another delimiter (`userId;login` read with `,`):
 * the hint that says so, or undefined.
 */
export function oneCellHint(names: readonly string[], delimiter: Delimiter): string | undefined {
  if (names.length !== 1) return undefined;
  const cell = names[0]!;
  const other = [...DETECTED_DELIMITERS, '|'].filter((d) => d !== delimiter.char).find((d) => cell.includes(d));
  if (!other) return undefined;
  if (delimiter.from === 'header') {
    // Detection found no delimiter outside quotes: the whole line is one quoted field.
    return `the header is one single quoted cell that contains ${describeDelimiter(other)}: each line seems to be wrapped in quotes, so it reads as one column; save the file without quotes around whole lines`;
  }
  const flag = `--delimiter ${other === '\t' ? 'tab' : `"${other}"`}`;
  const how = delimiter.from === 'option' ? `leave out --delimiter to detect it, or pass ${flag}` : `pass ${flag}`;
  return (
    `the header is one single cell that contains ${describeDelimiter(other)}, so the columns seem to be separated by ${describeDelimiter(other)}, ` +
    `not by ${describeDelimiter(delimiter.char)} (${describeDelimiterSource(delimiter.from)}): ${how}`
  );
}
