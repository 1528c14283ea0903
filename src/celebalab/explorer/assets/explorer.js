/* celebalab explorer: the map is drawn here from the binary arrays the server sends once
 * (figures.map_spec). One scattergl trace per colour: plotly.js then converts one colour per
 * trace instead of one per point (the per-point conversion of 202,599 colours took ~1.4 s in
 * software WebGL). A re-clustering changes only `codes`, so the points are regrouped here.
 * Greyed context points (the last palette colour) are drawn first, beneath the others.
 * Above the point budget the server sends a density image instead (figures.density_spec): it
 * is drawn as the plot's background, a zoom asks the server for a new one (store `map-zoom`)
 * and a click sends its map coordinates (store `map-click`) for the server to resolve. */
(function () {
  const TYPES = { f4: Float32Array, i4: Int32Array, u1: Uint8Array };

  function decode(spec) {
    const text = atob(spec.bdata);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new TYPES[spec.dtype](bytes.buffer);
  }

  // Drawing the map holds the main thread (~0.4 s for 202,599 points in software WebGL), so
  // the first time it waits until the pies are drawn and painted: the page shows them first.
  let piesPainted = false;
  function afterPies() {
    const start = performance.now();
    return new Promise((resolve) => {
      (function check() {
        if (piesPainted || document.querySelector("#pies .main-svg")
            || performance.now() - start > 5000) {
          piesPainted = true;
          requestAnimationFrame(() => setTimeout(resolve, 0));
        } else {
          setTimeout(check, 20);
        }
      })();
    });
  }

  function mapFigure(data) {
    if (!data) return window.dash_clientside.no_update;
    if (data.figure) return data.figure;
    if (data.density) return whenDrawn(densityFigure(data));
    return whenDrawn(piesPainted ? figure(data) : afterPies().then(() => figure(data)));
  }

  // The density preview painted with the page (figures: map-preview) goes once the map is drawn.
  function whenDrawn(result) {
    Promise.resolve(result).then(() => {
      (function check(tries) {
        const gd = document.querySelector('#map .js-plotly-plot');
        const preview = document.getElementById('map-preview');
        if (gd && gd._fullData && gd._fullData.length && gd._fullLayout) {
          requestAnimationFrame(() => { if (preview) preview.style.display = 'none'; });
          listen(gd);
        } else if (tries > 0) {
          setTimeout(() => check(tries - 1), 50);
        }
      })(1200);
    });
    return result;
  }

  // Density map: the last figure's mode decides what a click and a zoom mean.
  let densityMode = false;
  let rows = null;  // dataset row of each drawn point (null: the position is the row)
  let fullRange = null;  // the density map's whole extent (a reset of the zoom goes back to it)

  function densityFigure(data) {
    densityMode = true;
    rows = null;
    const d = data.density;
    fullRange = data.full;
    // The axes show the image's ranges: a zoom comes back as a new image with its ranges.
    const layout = Object.assign({}, data.layout, {
      uirevision: d.x.concat(d.y).join(),
      xaxis: Object.assign({}, data.layout.xaxis, { range: d.x, autorange: false }),
      yaxis: Object.assign({}, data.layout.yaxis, { range: d.y, autorange: false }),
      images: [{
        source: d.source, xref: 'x', yref: 'y', x: d.x[0], y: d.y[1],
        sizex: d.x[1] - d.x[0], sizey: d.y[1] - d.y[0], sizing: 'stretch', layer: 'below',
      }],
    });
    return { data: [{ type: 'scatter', x: [], y: [], mode: 'markers', hoverinfo: 'skip' }],
             layout };
  }

  function listen(gd) {
    if (gd.__celebalab) return;
    gd.__celebalab = true;
    let down = null;
    gd.addEventListener('mousedown', (e) => { down = [e.clientX, e.clientY]; }, true);
    document.addEventListener('mouseup', (e) => {
      if (!densityMode || !down) return;
      const moved = Math.hypot(e.clientX - down[0], e.clientY - down[1]);
      down = null;
      const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
      const box = gd.getBoundingClientRect();
      const px = e.clientX - box.left - xa._offset, py = e.clientY - box.top - ya._offset;
      if (moved > 4 || px < 0 || py < 0 || px > xa._length || py > ya._length) return;
      const radius = Math.max(Math.abs(xa.p2l(10) - xa.p2l(0)), Math.abs(ya.p2l(10) - ya.p2l(0)));
      window.dash_clientside.set_props('map-click', {
        data: { x: xa.p2l(px), y: ya.p2l(py), radius, t: Date.now() } });
    });
    gd.on('plotly_relayout', (change) => {
      if (!densityMode) return;
      if (change['xaxis.autorange'] || change['yaxis.autorange']) {
        if (fullRange) window.dash_clientside.set_props('map-zoom', { data: fullRange });
      } else if ('xaxis.range[0]' in change || 'yaxis.range[0]' in change) {
        const xr = gd._fullLayout.xaxis.range, yr = gd._fullLayout.yaxis.range;
        window.dash_clientside.set_props('map-zoom', {
          data: { x: [xr[0], xr[1]], y: [yr[0], yr[1]] } });
      }
    });
  }

  function figure(data) {
    densityMode = false;
    rows = data.rows ? decode(data.rows) : null;
    const x = decode(data.x), y = decode(data.y), hover = decode(data.hover);
    const codes = decode(data.codes), names = data.names, n = x.length;
    const point = (i) => [hover[2 * i], hover[2 * i + 1], i];
    const counts = new Int32Array(data.palette.length);
    for (let i = 0; i < n; i++) counts[codes[i]]++;
    const groups = data.palette.map((colour, c) => ({
      x: new Float32Array(counts[c]), y: new Float32Array(counts[c]),
      customdata: new Array(counts[c]), text: names ? new Array(counts[c]) : undefined,
      colour, filled: 0,
    }));
    for (let i = 0; i < n; i++) {
      const g = groups[codes[i]], j = g.filled++;
      g.x[j] = x[i]; g.y[j] = y[i]; g.customdata[j] = point(i);
      if (names) g.text[j] = names[i];
    }
    const context = groups.pop();  // the greyed points: drawn first, beneath the clusters
    groups.unshift(context);
    const traces = groups.filter((g) => g.filled).map((g) => ({
      type: "scattergl", mode: "markers", x: g.x, y: g.y, customdata: g.customdata, text: g.text,
      marker: { color: g.colour, size: data.size, opacity: g === context ? 0.6 : 0.8 },
      hovertemplate: data.hovertemplate, name: "faces", showlegend: false,
    }));
    if (data.person) {
      const p = data.person;
      traces.push({
        type: "scattergl", mode: "markers", name: "person", showlegend: false,
        x: p.map((i) => x[i]), y: p.map((i) => y[i]), customdata: p.map(point),
        text: names ? p.map((i) => names[i]) : undefined,
        hovertemplate: data.hovertemplate.replace("<br>", " (chosen)<br>"),
        marker: { size: 11, color: "rgba(0,0,0,0)", line: { width: 2, color: "#111" } },
      });
    }
    return { data: traces, layout: data.layout };
  }

  // A thumbnail clicked: its full image in the dialog, by source and row (thumbnails of the
  // similar faces come inline as data: URLs, so the URL is not derived from the thumbnail's).
  function enlarge(clicks, titles, source) {
    const ctx = window.dash_clientside.callback_context;
    const fired = ctx.triggered.length ? ctx.triggered[0] : null;
    if (!fired || !fired.value) return Array(3).fill(window.dash_clientside.no_update);
    const id = JSON.parse(fired.prop_id.slice(0, fired.prop_id.lastIndexOf(".")));
    const i = ctx.inputs_list[0].findIndex(
      (item) => item.id.gallery === id.gallery && item.id.row === id.row);
    if (i < 0) return Array(3).fill(window.dash_clientside.no_update);
    return [true, `/explorer/image/${Number(source)}/${Number(id.row)}`, titles[i]];
  }

  // A hovered point: its thumbnail in the tooltip, fetched by source and row (cached).
  function hoverThumb(hover, source) {
    const point = hover && hover.points && hover.points[0];
    if (!point || !point.customdata || point.customdata.length !== 3 || densityMode) {
      return [false, window.dash_clientside.no_update, window.dash_clientside.no_update,
              window.dash_clientside.no_update];
    }
    const position = point.customdata[2];
    const row = rows ? rows[position] : position;
    const box = point.bbox || { x0: 0, x1: 0, y0: 0, y1: 0 };
    return [true, box, `/explorer/thumb/${Number(source)}/${Number(row)}`,
            `person ${point.customdata[0]}`];
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    explorer: { mapFigure, enlarge, hoverThumb },
  });
})();
