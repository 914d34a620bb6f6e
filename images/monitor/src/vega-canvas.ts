/**
 * What the bundle has in place of the package vega-canvas (package.json's "bundle.alias"). vega-canvas loads the
 * native `canvas` package with a top-level await, which a CommonJS bundle cannot hold; without `canvas`
 * installed it answers null to every call, and so does this. Vega then renders SVG without a canvas and
 * estimates text widths from the font size, as it does in Node whenever `canvas` is absent.
 */
export const canvas = (_w?: number, _h?: number, _type?: string): null => null;
export const domCanvas = canvas;
export const nodeCanvas = canvas;
export const image = (): null => null;
