/**
 * The colours derived from accent_color stay readable whatever the colour (WCAG 2 AA, 4.5:1):
 * button text on the accent and on its hover shade, and links and outlines on white.
 */
import { describe, expect, it } from 'vitest';
import { Branding } from '../../src/http/views/brand.js';
import { accentPalette, contrastRatio } from '../../src/http/views/palette.js';

/** Every colour whose channels are multiples of 17 (#000000, #000011 … #ffffff): 4096 colours. */
const GRID = Array.from({ length: 16 ** 3 }, (_, i) => `#${[i >> 8, (i >> 4) & 15, i & 15].map((n) => (n * 17).toString(16).padStart(2, '0')).join('')}`);

describe('accent palette', () => {
  it('computes WCAG contrast ratios', () => {
    expect(contrastRatio('#ffffff', '#000000')).toBeCloseTo(21, 5);
    expect(contrastRatio('#4338ca', '#ffffff')).toBeCloseTo(7.9, 1);
    expect(contrastRatio('#777777', '#777777')).toBe(1);
  });

  it('keeps the default indigo with white text', () => {
    expect(accentPalette('#4338ca')).toEqual({ accent: '#4338ca', onAccent: '#ffffff', hover: expect.stringMatching(/^#[0-9a-f]{6}$/), strong: '#4338ca' });
  });

  it('puts near-black text on a light colour and darkens it for links', () => {
    const palette = accentPalette('#ffcc00');
    expect(palette.onAccent).toBe('#111827');
    expect(palette.strong).not.toBe('#ffcc00');
  });

  it.each(GRID.filter((_, i) => i % 256 === 0).map((c) => [c]))('is readable for %s and its neighbours', (first) => {
    const start = GRID.indexOf(first);
    for (const colour of GRID.slice(start, start + 256)) {
      const p = accentPalette(colour);
      expect(contrastRatio(p.onAccent, p.accent), `text on ${colour}`).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(p.onAccent, p.hover), `text on ${colour} hovered`).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(p.strong, '#ffffff'), `links for ${colour}`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('versions the stylesheet by its content', () => {
    const names = { storefrontName: 'Store', backofficeName: 'Back office', logoUrl: undefined };
    const a = new Branding({ ...names, accentColor: '#4338ca' });
    const b = new Branding({ ...names, accentColor: '#0f766e' });
    expect(a.of('storefront').stylesheet).toBe(new Branding({ ...names, accentColor: '#4338ca' }).of('storefront').stylesheet);
    expect(a.of('storefront').stylesheet).not.toBe(b.of('storefront').stylesheet);
    expect(a.of('backoffice').stylesheet).toBe(a.of('storefront').stylesheet);
    expect(b.css).toContain('#0f766e');
    expect(a.logoOrigin).toBeUndefined();
    expect(new Branding({ ...names, logoUrl: 'https://cdn.example:8443/a/logo.png', accentColor: '#4338ca' }).logoOrigin).toBe('https://cdn.example:8443');
    expect(new Branding({ ...names, logoUrl: '/logo.png', accentColor: '#4338ca' }).logoOrigin).toBeUndefined();
  });
});
