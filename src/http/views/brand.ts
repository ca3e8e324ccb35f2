/**
 * What the end-user pages show of the product they belong to: each side's name, the logo, and
 * the stylesheet with the accent colour built in. Built once per server from the configuration
 * (Branding, the one place a side's brand is made), then handed to the views, which stay pure.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../../config/index.js';
import type { SideName } from '../../oauth/sides.js';
import { type Brand, pageStylesheet } from './layout.js';
import { accentPalette } from './palette.js';

export type { Brand };

/** A neutral name: no page may show the server's own name, not even in its source. */
export const PAGE_STYLESHEET_PATH = '/assets/pages.css';

export class Branding {
  /** The stylesheet of the sign-in, consent and error pages, served at PAGE_STYLESHEET_PATH. */
  readonly css: string;
  /** The logo's origin when it is on another server: the only one the pages' CSP lets images come from. */
  readonly logoOrigin: string | undefined;
  private readonly brands: Record<SideName, Brand>;

  constructor(config: Pick<Config, 'storefrontName' | 'backofficeName' | 'logoUrl' | 'accentColor'>) {
    this.css = pageStylesheet(accentPalette(config.accentColor));
    const version = createHash('sha256').update(this.css).digest('hex').slice(0, 12);
    const stylesheet = `${PAGE_STYLESHEET_PATH}?v=${version}`;
    const logoUrl = config.logoUrl;
    this.logoOrigin = logoUrl?.startsWith('https:') ? new URL(logoUrl).origin : undefined;
    const brand = (name: string): Brand => (logoUrl ? { name, logoUrl, stylesheet } : { name, stylesheet });
    this.brands = { storefront: brand(config.storefrontName), backoffice: brand(config.backofficeName) };
  }

  of(side: SideName): Brand {
    return this.brands[side];
  }
}
