// Builds the explorer's partial plotly.js bundle with plotly.js's own esbuild settings
// (plotly.js/esbuild-config.js), minified: `npm ci && npm run build` in this folder.
// The output is committed (the explorer never fetches anything at run time).
const path = require('path');
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const version = require('plotly.js/package.json').version;

const out = path.join(__dirname, '..', '..', 'src', 'celebalab', 'explorer', 'assets',
                      'plotly-explorer.min.js');
esbuild.build({
    entryPoints: [path.join(__dirname, 'entry.js')],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'none',
    banner: { js: `/* plotly.js v${version} (MIT license, Copyright 2012-2026 Plotly, Inc.), ` +
                  'partial bundle of the celebalab explorer: bar, heatmap, pie, scatter, ' +
                  'scattergl; built by tools/plotly-bundle */' },
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info',
}).catch(() => process.exit(1));
