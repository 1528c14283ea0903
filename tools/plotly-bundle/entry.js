// The trace types the explorer draws: pies (pie), the phi matrix (heatmap), the map (scattergl,
// scatter for the density map's axes and the dendrogram) and the selection profile (bar).
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/pie'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/scattergl'),
]);

module.exports = Plotly;
