/**
 * The colours the pages derive from the configured accent colour, each readable where it is
 * used (WCAG 2 contrast): the button, its text and hover, and links on white.
 */

/** The colours the stylesheet derives from the accent colour. */
export interface AccentPalette {
  /** Button background. */
  accent: string;
  /** Text on the accent colour: white or near-black, whichever is readable on it. */
  onAccent: string;
  /** Button background under the pointer: further from the text colour, so still readable. */
  hover: string;
  /** Links, the product name and focus outlines on white: the accent, darkened until readable there. */
  strong: string;
}

/** WCAG 2 minimum contrast of normal text (1.4.3 AA). */
const MIN_CONTRAST = 4.5;

type Rgb = readonly [number, number, number];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
/** The pages' own near-black text colour (#111827). */
const NEAR_BLACK: Rgb = [17, 24, 39];

const parse = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as unknown as Rgb;
const format = (c: Rgb) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
const mix = (c: Rgb, toward: Rgb, share: number): Rgb => c.map((v, i) => v + ((toward[i] as number) - v) * share) as unknown as Rgb;

/** WCAG 2 relative luminance. */
function luminance(c: Rgb): number {
  const [r, g, b] = c.map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2 contrast ratio of two colours, from 1 to 21. */
export function contrastRatio(a: string, b: string): number {
  const [x, y] = [luminance(parse(a)), luminance(parse(b))];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}

export function accentPalette(accentColor: string): AccentPalette {
  const accent = parse(accentColor);
  const ratio = (c: Rgb) => contrastRatio(format(accent), format(c));
  // White or the pages' near-black, whichever reads better; on the few mid-tones where neither
  // reaches 4.5:1, pure black does (every colour has at least 4.58:1 against white or black).
  const best = ratio(WHITE) >= ratio(NEAR_BLACK) ? WHITE : NEAR_BLACK;
  const text = ratio(best) >= MIN_CONTRAST ? best : BLACK;
  const hover = mix(accent, text === WHITE ? BLACK : WHITE, 0.15);
  let strong = accent;
  for (let darker = 0.05; contrastRatio(format(strong), '#ffffff') < MIN_CONTRAST; darker += 0.05) strong = mix(accent, BLACK, darker);
  return { accent: format(accent), onAccent: format(text), hover: format(hover), strong: format(strong) };
}
